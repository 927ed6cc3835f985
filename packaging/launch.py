"""The frozen app's entry point (PyInstaller starts here)."""
import multiprocessing

from desktop_app.app import main

if __name__ == "__main__":
    # A frozen executable re-runs itself for multiprocessing children; this
    # makes such a child do its job instead of opening a second window.
    multiprocessing.freeze_support()
    raise SystemExit(main())
