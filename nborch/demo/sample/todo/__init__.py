"""A small todo-list library: :class:`Todo` items kept in a :class:`TodoStore`."""

from .models import PRIORITIES, Todo
from .store import TodoStore

__all__ = ["PRIORITIES", "Todo", "TodoStore", "__version__"]
__version__ = "0.1.0"
