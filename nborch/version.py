"""nborch's version, apart from the package so any module can name it without importing all of nborch."""

__version__ = "0.1.0"
