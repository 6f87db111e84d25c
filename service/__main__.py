import sys

from service.runtime import limit_malloc_arenas

limit_malloc_arenas()  # before any worker thread starts

from service.cli import main  # noqa: E402

sys.exit(main())
