"""Classify tasks: type, complexity (1–5) and tech stack, by transparent weighted word rules.

The rules are data (:mod:`nborch.classify_rules`); every result carries the words that decided it.

>>> from nborch.plan import Task
>>> c = classify(Task(id="1", title="Fix crash when the config file is empty"))
>>> c.task_type, c.reasons[0]
('bugfix', 'type=bugfix: "fix" in title (+4.0)')
"""

from __future__ import annotations

import difflib
import functools
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from .classify_rules import DEFAULT_RULES, TASK_TYPES, Rule
from .display import html_table, text_table
from .plan import Plan, Task

__all__ = ["TASK_TYPES", "Classification", "Classifications", "Rule", "classify", "classify_plan"]

TITLE_FACTOR = 2.0  # a word in the title says more about the task than the same word in its body
LEAD_FACTOR = 1.5  # titles are imperative: their first word usually names the kind of work
BASE_COMPLEXITY = 2.0
STACK_MIN = 1.0  # weak stack hints (0.5) need a second one before they name a stack
DEFAULT_TYPE = "feature"
# Size signals: (threshold, step); the largest threshold reached applies.
ITEM_STEPS = ((12, 1.5), (8, 1.0), (5, 0.5))  # objectives + key activities + deliverables
WORD_STEPS = ((400, 1.0), (150, 0.5))
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


def classify_plan(plan: Plan | Iterable[Task], rules: Iterable[Rule] = DEFAULT_RULES) -> Classifications:
    """Classify every task of a plan, in plan order."""
    matcher = _matcher(rules)
    return Classifications(tuple((t, _classify(t, matcher)) for t in plan))


# ---- matching words ------------------------------------------------------------------------


def _split_top(pattern: str) -> list[str]:
    """Split a regex on ``|`` outside groups and classes, so alternatives can be phrases."""
    out, depth, start, i, in_class = [], 0, 0, 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 1
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            out.append(pattern[start:i])
            start = i + 1
        i += 1
    return out + [pattern[start:]]


class _Matcher:
    """Rules compiled once: each rule is alternatives, each alternative a sequence of words."""

    __slots__ = ("cache", "flat", "rules", "seqs", "union")
    _CACHE_MAX = 200_000

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        self.rules = rules
        self.seqs: list[tuple[int, int]] = []  # (rule index, words in the sequence)
        self.flat: list[tuple[int, int, re.Pattern[str]]] = []  # (sequence, word position, regex)
        words: set[str] = set()
        for r, rule in enumerate(rules):
            alts = [a.split() for a in _split_top(rule.pattern.strip()) if a.strip()]
            # Single words of a rule share one regex: fewer regexes to try per new word.
            singles = "|".join(a[0] for a in alts if len(a) == 1)
            for seq in ([[singles]] if singles else []) + [a for a in alts if len(a) > 1]:
                self.seqs.append((r, len(seq)))
                for pos, word in enumerate(seq):
                    try:
                        rx = re.compile(f"(?:{word})", re.IGNORECASE)
                    except re.error as err:
                        raise ValueError(
                            f"{rule!r}: {word!r} is not a regex for one word ({err}); "
                            "spaces separate words, so keep them out of groups"
                        ) from None
                    self.flat.append((len(self.seqs) - 1, pos, rx))
                    words.add(word)
        # Most words of a task match no rule; one pass over the union rules them out at once.
        self.union = re.compile("|".join(f"(?:{w})" for w in sorted(words)), re.IGNORECASE)
        self.cache: dict[str, frozenset[tuple[int, int]]] = {}

    def hits(self, word: str) -> frozenset[tuple[int, int]]:
        """(sequence, position) pairs whose regex matches this whole word; cached per word."""
        found = self.cache.get(word)
        if found is None:
            found = frozenset()
            if self.union.fullmatch(word):
                found = frozenset((s, p) for s, p, rx in self.flat if rx.fullmatch(word))
            if len(self.cache) >= self._CACHE_MAX:
                self.cache.clear()  # bounded memory in long sessions
            self.cache[word] = found
        return found

    def find(self, text: str) -> dict[int, tuple[str, int]]:
        """Rule index → the words of its first match in ``text`` and their position."""
        words = _WORD.findall(text.lower())
        hits = [self.hits(w) for w in words]
        found: dict[int, tuple[str, int]] = {}
        for i, here in enumerate(hits):
            for s, pos in sorted(here):
                rule, n = self.seqs[s]
                if pos or rule in found or i + n > len(words):
                    continue
                if all((s, k) in hits[i + k] for k in range(1, n)):
                    found[rule] = (" ".join(words[i : i + n]), i)
        return found


@functools.lru_cache(maxsize=8)
def _compiled(rules: tuple[Rule, ...]) -> _Matcher:
    return _Matcher(rules)


_last: list[object] = [None, None]  # the last rules object and its matcher: skips tuple hashing


def _matcher(rules: Iterable[Rule]) -> _Matcher:
    if rules is not _last[0]:
        _last[:] = [rules, _compiled(tuple(rules))]
    return _last[1]  # type: ignore[return-value]


# ---- scoring -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Hit:
    rule: Rule
    order: int
    where: str
    words: str
    points: float
    lead: bool = False


def _hits(task: Task, m: _Matcher) -> list[_Hit]:
    """Every rule that matched, once per place (title, body); a complexity label once per task."""
    body = "\n".join([task.overview, *task.objectives, *task.key_activities, *task.deliverables,
                      task.technical_implementation, *(b for _, b in task.extra_sections)])  # fmt: skip
    checks = "\n".join(v.text for v in task.validation)
    # Every task's checks mention tests: they say how to verify, not what kind of work it is,
    # so they count for stack and complexity but not for the type.
    sources = (("title", task.title, True), ("body", body, True), ("body", checks, False))
    out: list[_Hit] = []
    seen: set[tuple[int, str]] = set()
    steps: dict[str, _Hit] = {}
    for where, text, for_type in sources:
        for r, (words, pos) in m.find(text).items():
            rule = m.rules[r]
            if rule.where not in ("any", where) or (r, where) in seen:
                continue
            seen.add((r, where))
            if rule.kind == "complexity":
                hit = _Hit(rule, r, where, words, rule.weight)
                old = steps.get(rule.label)
                if old is None or (abs(hit.points), -hit.order) > (abs(old.points), -old.order):
                    steps[rule.label] = hit
            elif for_type or rule.kind != "type":
                factor = TITLE_FACTOR if where == "title" else 1.0
                lead = where == "title" and pos == 0 and rule.kind == "type"
                factor *= LEAD_FACTOR if lead else 1.0
                out.append(_Hit(rule, r, where, words, rule.weight * factor, lead))
    return out + list(steps.values())


def _fmt(hit: _Hit) -> str:
    first = ", first word" if hit.lead else ""
    return f'"{hit.words}" in {hit.where}{first} ({hit.points:+.1f})'


def _step(value: int, steps: tuple[tuple[int, float], ...]) -> float:
    return next((step for threshold, step in steps if value >= threshold), 0.0)


def _classify(task: Task, m: _Matcher) -> Classification:
    hits = sorted(_hits(task, m), key=lambda h: (-abs(h.points), h.order, h.where))
    reasons: list[str] = []

    # Type: most points wins; ties go to the type with more title points, then TASK_TYPES order.
    scores: dict[str, float] = dict.fromkeys(TASK_TYPES, 0.0)
    in_title: dict[str, float] = dict.fromkeys(TASK_TYPES, 0.0)
    for h in hits:
        if h.rule.kind == "type":
            scores[h.rule.label] += h.points
            in_title[h.rule.label] += h.points if h.where == "title" else 0.0
    ranked = sorted(TASK_TYPES, key=lambda t: (-max(scores[t], 0.0), -in_title[t], TASK_TYPES.index(t)))
    best, second = ranked[0], ranked[1]
    top, runner = max(scores[best], 0.0), max(scores[second], 0.0)
    if top <= 0:
        task_type, confidence = DEFAULT_TYPE, 0.1
        reasons.append(f"type={DEFAULT_TYPE}: no type words matched, so the default (low confidence)")
    else:
        task_type = best
        # Confidence grows with the evidence for the winner and with its lead over the runner-up.
        evidence = 1.0 - math.exp(-top / 3.0)
        margin = (top - runner) / top
        confidence = evidence * (0.4 + 0.6 * margin)
        reasons += [f"type={best}: {_fmt(h)}" for h in hits if h.rule.kind == "type" and h.rule.label == best]
        versus = f"{second} {runner:.1f}" if runner > 0 else "no other type"
        reasons.append(f"type={best}: {top:.1f} points vs {versus}")

    # Stack: every item with enough evidence, strongest first.
    stack: dict[str, list[_Hit]] = {}
    for h in hits:
        if h.rule.kind == "stack":
            stack.setdefault(h.rule.label, []).append(h)
    totals = {label: sum(h.points for h in hs) for label, hs in stack.items()}
    tech = tuple(sorted((s for s, v in totals.items() if v >= STACK_MIN), key=lambda s: (-totals[s], s)))
    for s in tech:
        reasons.append(f"stack={s}: " + ", ".join(_fmt(h) for h in stack[s]))

    # Complexity: a base, the raisers and lowerers that matched, and the size of the task.
    steps = [(h.points, f'{h.rule.label}, "{h.words}" in {h.where}') for h in hits
             if h.rule.kind == "complexity"]  # fmt: skip
    n_items = len(task.objectives) + len(task.key_activities) + len(task.deliverables)
    n_words = len(_WORD.findall(task.text))
    sizes = ((_step(n_items, ITEM_STEPS), f"{n_items} objectives/activities/deliverables"),
             (_step(n_words, WORD_STEPS), f"{n_words} words"),
             (_step(len(task.depends_on), DEPENDENCY_STEPS), f"{len(task.depends_on)} dependencies"))  # fmt: skip
    steps += [s for s in sizes if s[0]]
    raw = BASE_COMPLEXITY + sum(p for p, _ in steps)
    complexity = min(5, max(1, math.floor(raw + 0.5)))
    reasons += [f"complexity {p:+.1f}: {why}" for p, why in steps]
    reasons.append(f"complexity={complexity}: base {BASE_COMPLEXITY:.0f}, total {raw:.1f}, clamped to 1-5")
    return Classification(task_type, complexity, tech, round(min(max(confidence, 0.0), 1.0), 2),
                          tuple(reasons))  # fmt: skip


# ---- a plan's classifications ------------------------------------------------------------

_COLUMNS = ("id", "title", "phase", "task_type", "complexity", "tech_stack", "confidence", "reasons")


@dataclass(frozen=True, slots=True)
class Classifications:
    """The classification of every task in a plan, in plan order; index by task id.

    >>> from nborch.plan import parse_plan
    >>> result = classify_plan(parse_plan("# P\\n## Task 1: Fix login crash\\n"))
    >>> result["1"].task_type
    'bugfix'
    """

    pairs: tuple[tuple[Task, Classification], ...]
    _index: dict[str, Classification] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {t.id: c for t, c in self.pairs})

    def __getitem__(self, task_id: str) -> Classification:
        try:
            return self._index[task_id]
        except KeyError:
            close = difflib.get_close_matches(task_id, list(self._index), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
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
        ``TASK_TYPES``), ``complexity``, ``tech_stack`` (list), ``confidence``, ``reasons`` (list)."""
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
        return f"{len(self.pairs)} task{'s' * (len(self.pairs) != 1)}" + (f": {counts}" if counts else "")

    def __repr__(self) -> str:
        return f"<Classifications {self.summary()}>"

    def __str__(self) -> str:
        return self.summary() + "\n" + text_table(_COLUMNS[:7], [r[:7] for r in self._rows()])

    def _repr_html_(self) -> str:
        # The first reason is the deciding one; the full list is in to_frame().
        rows = [(*r[:7], r[7][0] if r[7] else "") for r in self._rows()]
        return html_table((*_COLUMNS[:7], "why"), rows, caption=self.summary())
