"""Hugging Face checkpoints (LLaDA, Dream) -> localleap models: see docs/hf-export.md."""
