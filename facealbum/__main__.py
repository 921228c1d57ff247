import multiprocessing

from facealbum.cli.main import main

if __name__ == "__main__":
    # Scan workers are spawned processes; a frozen (PyInstaller) app needs this first.
    multiprocessing.freeze_support()
    raise SystemExit(main())
