"""Speed and memory benchmarks (``make bench``); numbers are recorded by hand, never asserted.

Every benchmark runs against real services (Redis Stack on 6380, the real app under uvicorn, the
local llama.cpp server for the local-model run) under its own ``bench…`` key prefix, removed
afterwards. Results are medians and ratios from the same run: the machine is small and shared.
"""
