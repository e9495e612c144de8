"""``python -m target_clevertap.sandbox`` is the ``clevertap-sandbox`` command."""

from target_clevertap.sandbox.cli import main

raise SystemExit(main())
