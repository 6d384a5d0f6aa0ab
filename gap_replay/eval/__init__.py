"""`gap-replay eval`: a causal language model scored on the medical benchmarks (MedQA, MedMCQA, PubMedQA,
MMLU-medical), with pinned prompts, shots, seeds and scoring, so that a rerun gives the same digits."""
