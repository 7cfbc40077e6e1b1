"""An in-memory store of todos."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date

from .models import Todo


class TodoStore:
    """Todos in memory, by id. Ids start at 1 and are never reused, even after a removal."""

    def __init__(self) -> None:
        self._todos: dict[int, Todo] = {}
        self._next_id = 1

    def add(
        self,
        title: str,
        *,
        priority: str = "medium",
        tags: Iterable[str] = (),
        due: date | None = None,
    ) -> Todo:
        """Create a todo, store it and return it."""
        todo = Todo(self._next_id, title, priority=priority, tags=list(tags), due=due)
        self._todos[todo.id] = todo
        self._next_id += 1
        return todo

    def get(self, todo_id: int) -> Todo:
        """The todo with this id; ``KeyError`` if there is none."""
        try:
            return self._todos[todo_id]
        except KeyError:
            raise KeyError(f"no todo with id {todo_id}") from None

    def list(self, *, include_done: bool = True) -> list[Todo]:
        """All todos in id order; ``include_done=False`` leaves out the finished ones."""
        return [t for t in self._todos.values() if include_done or not t.done]

    def complete(self, todo_id: int) -> Todo | None:
        """Mark a todo as done and return it."""
        todo = self._todos.get(todo_id)
        if todo is not None:
            todo.mark_done()
        return todo

    def remove(self, todo_id: int) -> Todo:
        """Delete a todo and return it; ``KeyError`` if there is none."""
        todo = self.get(todo_id)
        del self._todos[todo_id]
        return todo

    def __len__(self) -> int:
        return len(self._todos)

    def __iter__(self) -> Iterator[Todo]:
        return iter(self.list())

    def __contains__(self, todo_id: object) -> bool:
        return todo_id in self._todos
