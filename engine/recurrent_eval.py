"""`python -m engine.recurrent_eval`: the name this command had before the
engine's modules moved into subpackages; it runs engine.cli.recurrent_eval."""
from engine.cli.recurrent_eval import main

if __name__ == "__main__":
    raise SystemExit(main())
