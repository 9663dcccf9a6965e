"""`python -m keras_waveglow ...`: the `keras-waveglow` command line."""

import sys

from keras_waveglow.cli import main

if __name__ == "__main__":
    sys.exit(main())
