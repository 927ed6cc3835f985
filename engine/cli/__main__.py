"""`python -m engine.cli`: the same as `latent-atelier-cli`."""
from engine.cli.main import main

raise SystemExit(main())
