"""Who is asking: the verified identity of a request or connection, and what it may see."""
