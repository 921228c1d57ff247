from facealbum.cli import main

raise SystemExit(main())
