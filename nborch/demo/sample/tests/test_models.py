from datetime import date

from todo import Todo


def test_defaults():
    todo = Todo(1, "Buy milk")
    assert (todo.done, todo.priority, todo.tags, todo.due) == (False, "medium", [], None)


def test_title_is_stripped_and_tags_normalised():
    todo = Todo(1, "  Buy milk ", tags=["Errands", " shop ", "errands", ""])
    assert todo.title == "Buy milk"
    assert todo.tags == ["errands", "shop"]


def test_mark_done():
    todo = Todo(1, "Buy milk")
    todo.mark_done()
    todo.mark_done()
    assert todo.done


def test_str_shows_state_priority_tags_and_due():
    todo = Todo(7, "File taxes", priority="high", tags=["admin"], due=date(2030, 4, 15))
    assert str(todo) == "[ ] #7 File taxes (high) #admin due 2030-04-15"
    todo.mark_done()
    assert str(todo).startswith("[x] #7")
