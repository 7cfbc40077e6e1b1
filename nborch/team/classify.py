"""Classify tasks: type, complexity (1–5) and tech stack, by transparent weighted word rules.

The rules are data (:mod:`nborch.team.rules`); every result carries the words that decided it.

>>> from nborch.plan.model import Task
>>> c = classify(Task(id="1", title="Fix crash when the config file is empty"))
>>> c.task_type, c.reasons[0]
('bugfix', 'type=bugfix: "fix" in title, first word (+6.0)')
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from ..display import html_table, text_table
from ..names import closest
from ..plan.model import Plan, Task
from .rules import DEFAULT_RULES, TASK_TYPES, Rule

__all__ = ["TASK_TYPES", "Classification", "Classifications", "Rule", "classify", "classify_plan"]

TITLE_FACTOR = 2.0  # a word in the title says more about the task than the same word in its body
LEAD_FACTOR = 1.5  # titles are imperative: their first word usually names the kind of work
BASE_COMPLEXITY = 2.0
STACK_MIN = 1.0  # weak stack hints (0.5) need a second one before they name a stack
DEFAULT_TYPE = "feature"
# Size signals: (threshold, step); the largest threshold reached applies.
# A well-written plan task has 5-10 items and 150-300 words; only more than that raises it.
ITEM_STEPS = ((16, 1.5), (12, 1.0), (8, 0.5))  # objectives + key activities + deliverables
WORD_STEPS = ((600, 1.0), (300, 0.5))
DEPENDENCY_STEPS = ((4, 1.0), (2, 0.5))

_WORD = re.compile(r"[^\W_]+[+#]*")  # "node.js" → node, js; "c++" and "c#" stay whole


@dataclass(frozen=True, slots=True)
class Classification:
    """What kind of task it is, how hard it looks, which technologies it touches, and why."""

    task_type: str
    complexity: int
    tech_stack: tuple[str, ...]
    confidence: float
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready values (tuples become lists)."""
        return {"task_type": self.task_type, "complexity": self.complexity,
                "tech_stack": list(self.tech_stack), "confidence": self.confidence,
                "reasons": list(self.reasons)}  # fmt: skip


def classify(task: Task | str, rules: Iterable[Rule] = DEFAULT_RULES) -> Classification:
    """Classify one task (or a bare title) with ``rules``.

    >>> classify("Fix typo in README").complexity
    1
    >>> classify(Task(id="x", title="Set up GitHub Actions CI")).tech_stack
    ('github-actions',)
    """
    if isinstance(task, str):
        task = Task(id="-", title=task)
    return _classify(task, _matcher(rules))


def classify_plan(
    plan: Plan | Iterable[Task], rules: Iterable[Rule] = DEFAULT_RULES
) -> Classifications:
    """Classify every task of a plan, in plan order."""
    matcher = _matcher(rules)
    return Classifications(tuple((t, _classify(t, matcher)) for t in plan))


# ---- matching words ------------------------------------------------------------------------


def _alternatives(pattern: str) -> list[list[str]]:
    """Split a pattern on ``|`` outside groups and classes, then each alternative into words.

    Literals are lowercased (words are too) but escapes are not: ``\\W`` must stay ``\\W``.
    Case-sensitive regexes keep ``re``'s fast path for literal branches, which
    ``re.IGNORECASE`` turns off: ten times faster on words not seen before.
    """
    alts, chars, depth, in_class, i = [], [], 0, False, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            chars.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch in "()":
            depth += 1 if ch == "(" else -1
        elif ch == "[":
            in_class = True
        elif ch == "|" and depth == 0:
            alts.append("".join(chars))
            chars = []
            i += 1
            continue
        chars.append(ch.lower())
        i += 1
    return [a.split() for a in [*alts, "".join(chars)] if a.strip()]


_Starts = tuple[tuple[int, int, int], ...]  # (sequence, rule, words in the sequence)
_Entry = tuple[_Starts, frozenset[tuple[int, int]]]  # and every (sequence, position) a word fills


class _Matcher:
    """Rules compiled once: each rule is alternatives, each alternative a sequence of words."""

    __slots__ = ("cache", "flat", "rules", "seqs", "union")
    _CACHE_MAX = 200_000

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        self.rules = rules
        self.seqs: list[tuple[int, int]] = []  # (rule, words in the sequence)
        self.flat: list[tuple[int, int, re.Pattern[str]]] = []  # (sequence, position, regex)
        self.cache: dict[str, _Entry] = {}
        words: set[str] = set()
        for r, rule in enumerate(rules):
            alts = _alternatives(rule.pattern.strip())
            singles = "|".join(a[0] for a in alts if len(a) == 1)  # one regex: fewer to try
            for seq in ([[singles]] if singles else []) + [a for a in alts if len(a) > 1]:
                self.seqs.append((r, len(seq)))
                for pos, word in enumerate(seq):
                    try:
                        self.flat.append((len(self.seqs) - 1, pos, re.compile(f"(?:{word})")))
                    except re.error as err:
                        raise ValueError(
                            f"{rule!r}: {word!r} is not a regex for one word ({err}); "
                            "spaces separate words, so keep them out of groups"
                        ) from None
                    words.add(word)
        # Most words match no rule; one pass over the union rules them out at once.
        self.union = re.compile("|".join(f"(?:{w})" for w in sorted(words)))

    def learn(self, word: str) -> _Entry:
        """Which sequences this whole word starts and which positions it fills; then cached."""
        fills: frozenset[tuple[int, int]] = frozenset()
        if self.union.fullmatch(word):
            fills = frozenset((s, p) for s, p, rx in self.flat if rx.fullmatch(word))
        starts = tuple(sorted((s, *self.seqs[s]) for s, p in fills if p == 0))
        if len(self.cache) >= self._CACHE_MAX:
            self.cache.clear()  # bounded memory in long sessions
        self.cache[word] = entry = (starts, fills)
        return entry

    def find(self, text: str) -> tuple[dict[int, tuple[str, int]], int]:
        """Rule → the words of its first match in ``text`` and their position; and word count."""
        words = _WORD.findall(text.lower())
        get, learn = self.cache.get, self.learn
        entries = [get(w) or learn(w) for w in words]  # an entry is a 2-tuple, never falsy
        found: dict[int, tuple[str, int]] = {}
        for i, (starts, _) in enumerate(entries):
            for s, rule, n in starts:
                if rule in found:
                    continue
                if n == 1:
                    found[rule] = (words[i], i)
                elif i + n <= len(words) and all((s, k) in entries[i + k][1] for k in range(1, n)):
                    found[rule] = (" ".join(words[i : i + n]), i)
        return found, len(words)


@functools.lru_cache(maxsize=8)
def _compiled(rules: tuple[Rule, ...]) -> _Matcher:
    return _Matcher(rules)


# The last rules tuple and its matcher: hashing a long tuple of rules on every call costs more
# than classifying a task. One tuple, swapped whole, so threads never see a mismatched pair.
_last: tuple[tuple[Rule, ...], _Matcher] | None = None


def _matcher(rules: Iterable[Rule]) -> _Matcher:
    global _last
    if not isinstance(rules, tuple):
        rules = tuple(rules)  # a list may change later: only tuples are remembered by identity
    last = _last
    if last is not None and last[0] is rules:
        return last[1]
    matcher = _compiled(rules)
    _last = (rules, matcher)
    return matcher


# ---- scoring -------------------------------------------------------------------------------


class _Hit(NamedTuple):
    rule: Rule
    order: int  # index of the rule: ties break by table order
    where: str
    words: str
    points: float
    lead: bool = False


def _hits(task: Task, m: _Matcher) -> tuple[list[_Hit], int]:
    """Every rule that matched, once per place (title, body), a complexity label once per task;
    and the number of words in the task."""
    what = "\n".join([task.overview, *task.objectives, *task.key_activities, *task.deliverables])
    how = "\n".join([task.technical_implementation, *(b for _, b in task.extra_sections),
                     *(v.text for v in task.validation)])  # fmt: skip
    # The title and the what (overview, objectives, activities, deliverables) say what kind of
    # work a task is. The how (implementation notes, checks) is full of "raises ValueError" and
    # "tests pass" whatever the kind: it counts for stack and complexity, not for the type.
    sources = (("title", task.title, True), ("body", what, True), ("body", how, False))
    out: list[_Hit] = []
    seen: set[tuple[int, str]] = set()
    steps: dict[str, _Hit] = {}
    n_words = 0
    for where, text, for_type in sources:
        found, n = m.find(text)
        n_words += n
        for r, (words, pos) in found.items():
            rule = m.rules[r]
            if rule.where not in ("any", where) or (r, where) in seen:
                continue
            seen.add((r, where))
            if rule.kind == "complexity":  # the strongest rule of each label, once
                hit, old = _Hit(rule, r, where, words, rule.weight), steps.get(rule.label)
                if old is None or (abs(hit.points), -r) > (abs(old.points), -old.order):
                    steps[rule.label] = hit
            elif for_type or rule.kind != "type":
                lead = where == "title" and pos == 0 and rule.kind == "type"
                factor = TITLE_FACTOR if where == "title" else 1.0
                factor *= LEAD_FACTOR if lead else 1.0
                out.append(_Hit(rule, r, where, words, rule.weight * factor, lead))
    return out + list(steps.values()), n_words


def _fmt(hit: _Hit) -> str:
    first = ", first word" if hit.lead else ""
    return f'"{hit.words}" in {hit.where}{first} ({hit.points:+.1f})'


def _step(value: int, steps: tuple[tuple[int, float], ...]) -> float:
    return next((step for threshold, step in steps if value >= threshold), 0.0)


def _task_type(hits: list[_Hit]) -> tuple[str, float, list[str]]:
    """Most points wins; ties go to more title points, then to ``TASK_TYPES`` order."""
    scores = dict.fromkeys(TASK_TYPES, 0.0)
    in_title = dict.fromkeys(TASK_TYPES, 0.0)
    for h in hits:
        if h.rule.kind == "type":
            scores[h.rule.label] += h.points
            in_title[h.rule.label] += h.points if h.where == "title" else 0.0
    best, second = sorted(TASK_TYPES, key=lambda t: (-max(scores[t], 0.0), -in_title[t],
                                                     TASK_TYPES.index(t)))[:2]  # fmt: skip
    top, runner = max(scores[best], 0.0), max(scores[second], 0.0)
    if top <= 0:
        why = "no type words matched, so the default type, with low confidence"
        return DEFAULT_TYPE, 0.1, [f"type={DEFAULT_TYPE}: {why}"]
    # Confidence grows with the evidence for the winner and with its lead over the runner-up.
    confidence = (1.0 - math.exp(-top / 3.0)) * (0.4 + 0.6 * (top - runner) / top)
    reasons = [f"type={best}: {_fmt(h)}" for h in hits
               if h.rule.kind == "type" and h.rule.label == best]  # fmt: skip
    versus = f"{second} {runner:.1f}" if runner > 0 else "no other type"
    return best, confidence, [*reasons, f"type={best}: {top:.1f} points vs {versus}"]


def _classify(task: Task, m: _Matcher) -> Classification:
    found, n_words = _hits(task, m)
    hits = sorted(found, key=lambda h: (-abs(h.points), h.order, h.where))
    task_type, confidence, reasons = _task_type(hits)

    # Stack: every item with enough evidence, strongest first.
    stack: dict[str, list[_Hit]] = {}
    for h in hits:
        if h.rule.kind == "stack":
            stack.setdefault(h.rule.label, []).append(h)
    total = {label: sum(h.points for h in hs) for label, hs in stack.items()}
    tech = sorted((s for s, v in total.items() if v >= STACK_MIN), key=lambda s: (-total[s], s))
    reasons += [f"stack={s}: " + ", ".join(_fmt(h) for h in stack[s]) for s in tech]

    # Complexity: a base, the raisers and lowerers that matched, and the size of the task.
    steps = [(h.points, f'{h.rule.label}, "{h.words}" in {h.where}') for h in hits
             if h.rule.kind == "complexity"]  # fmt: skip
    n_items = len(task.objectives) + len(task.key_activities) + len(task.deliverables)
    n_deps = len(task.depends_on)
    sizes = ((_step(n_items, ITEM_STEPS), n_items, "objectives/activities/deliverables"),
             (_step(n_words, WORD_STEPS), n_words, "words"),
             (_step(n_deps, DEPENDENCY_STEPS), n_deps, "dependencies"))  # fmt: skip
    steps += [(step, f"{count} {what}") for step, count, what in sizes if step]
    raw = BASE_COMPLEXITY + sum(p for p, _ in steps)
    complexity = min(5, max(1, math.floor(raw + 0.5)))
    reasons += [f"complexity {p:+.1f}: {why}" for p, why in steps]
    reasons.append(f"complexity={complexity}: base {BASE_COMPLEXITY:.0f}, total {raw:.1f}, "
                   "clamped to 1-5")  # fmt: skip
    confidence = round(min(max(confidence, 0.0), 1.0), 2)
    return Classification(task_type, complexity, tuple(tech), confidence, tuple(reasons))


# ---- a plan's classifications ------------------------------------------------------------

_COLUMNS = ("id", "title", "phase", "task_type", "complexity", "tech_stack", "confidence",
            "reasons")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Classifications:
    """The classification of every task in a plan, in plan order; index by task id.

    >>> result = classify_plan([Task(id="1", title="Fix login crash"),
    ...                         Task(id="2", title="Add docs")])
    >>> result["1"].task_type, result
    ('bugfix', <Classifications 2 tasks: bugfix 1, docs 1>)
    """

    pairs: tuple[tuple[Task, Classification], ...]
    _index: dict[str, Classification] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {t.id: c for t, c in self.pairs})

    def __getitem__(self, task_id: str) -> Classification:
        try:
            return self._index[task_id]
        except KeyError:
            close = closest(task_id, self._index)
            hint = f"; did you mean {close!r}?" if close else ""
            raise KeyError(f"no task {task_id!r} was classified{hint}") from None

    def __iter__(self) -> Iterator[tuple[Task, Classification]]:
        return iter(self.pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def counts(self) -> dict[str, int]:
        """Tasks per type, most common first (ties in TASK_TYPES order)."""
        n = Counter(c.task_type for _, c in self.pairs)
        return {t: n[t] for t in sorted(n, key=lambda t: (-n[t], TASK_TYPES.index(t)))}

    def _rows(self) -> list[tuple[object, ...]]:
        return [(t.id, t.title, t.phase, c.task_type, c.complexity, c.tech_stack, c.confidence,
                 c.reasons) for t, c in self.pairs]  # fmt: skip

    def to_frame(self):  # -> pandas.DataFrame
        """One row per task; columns ``id, title, phase, task_type`` (categorical over
        ``TASK_TYPES``), ``complexity``, ``tech_stack`` (list), ``confidence``, ``reasons``
        (list)."""
        import pandas as pd

        frame = pd.DataFrame(self._rows(), columns=list(_COLUMNS))
        frame["task_type"] = pd.Categorical(frame["task_type"], categories=TASK_TYPES)
        frame["complexity"] = frame["complexity"].astype("int64")
        frame["confidence"] = frame["confidence"].astype("float64")
        for col in ("tech_stack", "reasons"):
            frame[col] = frame[col].map(list)
        return frame

    def summary(self) -> str:
        counts = ", ".join(f"{t} {n}" for t, n in self.counts().items())
        n = len(self.pairs)
        return f"{n} task{'s' * (n != 1)}" + (f": {counts}" if counts else "")

    def __repr__(self) -> str:
        return f"<Classifications {self.summary()}>"

    def __str__(self) -> str:
        return self.summary() + "\n" + text_table(_COLUMNS[:7], [r[:7] for r in self._rows()])

    def _repr_html_(self) -> str:
        # The first reason is the deciding one; the full list is in to_frame().
        rows = [(*r[:7], r[7][0] if r[7] else "") for r in self._rows()]
        return html_table((*_COLUMNS[:7], "why"), rows, caption=self.summary())
