from chutes_tui.cli import main

raise SystemExit(main())
