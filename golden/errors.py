"""The one exception type for bad user input (model files, foldings, data sets)."""


class ModelError(ValueError):
    """A model, folding or data file is malformed or unsupported.

    The message is one line that says what is wrong and what to do; command-line tools
    print it as ``error: <message>`` and exit with status 2 instead of a traceback.
    """
