"""The query path on LlamaIndex's abstractions: course-scoped retrieval, node postprocessors
(distance cut, reranking, prompt budget) and the streaming synthesizer."""
