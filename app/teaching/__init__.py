"""The teaching loop: what lecturers see of and say about the tutor's answers — feedback, reviews
of downvoted cached answers, curated answers, course insights and digests, guided answer mode."""
