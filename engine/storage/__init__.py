"""Files on disk, written and read safely: atomic writes, bounded JSON,
safetensors headers, where user data lives, and text from files made safe to print."""
