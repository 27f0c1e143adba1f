import sys

from harkd.cli.main import main

sys.exit(main())
