"""The classifier's rules, as data: edit or extend the table, not the code.

A :class:`Rule` gives points to a task type, names a tech stack item, or moves the complexity up or
down when its ``pattern`` matches words of a task. Patterns are matched on *words*: the text is
lowercased and split into words (``node.js`` → ``node``, ``js``; ``c++`` stays whole), a space in
a pattern separates consecutive words, and each word of the pattern is a regex that must match one
whole word. So ``unit tests?`` matches "unit test" and "unit tests", ``across (modules|services)``
matches "across modules". Alternatives split by ``|`` outside any group may each be a phrase
(``github actions|gha``); a space inside a group is an error, so an optional word needs a second
alternative (``end to end|e2e``).

>>> from nborch.team.classify import classify
>>> from nborch.plan.model import Task
>>> mine = DEFAULT_RULES + (Rule("type", "infra", "helmfile", 3.0),)
>>> classify(Task(id="1", title="Write the helmfile"), rules=mine).task_type
'infra'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..names import TASK_TYPES

KINDS = ("type", "stack", "complexity")
WHERE = ("any", "title", "body")


@dataclass(frozen=True, slots=True)
class Rule:
    """One weighted pattern.

    Parameters
    ----------
    kind:
        ``"type"`` (points for the task type ``label``), ``"stack"`` (evidence for the tech stack
        item ``label``) or ``"complexity"`` (``weight`` steps up, or down when negative; ``label``
        names the signal, e.g. ``"migration"``).
    pattern:
        Words to match; see the module docstring.
    weight:
        Points for a match, counted once per place (title, body) however often the words recur;
        a title match counts more (``nborch.team.classify.TITLE_FACTOR``). Negative weights count
        against a type or lower the complexity.
    where:
        ``"title"``, ``"body"`` or ``"any"`` (both).
    """

    kind: str
    label: str
    pattern: str
    weight: float = 1.0
    where: str = "any"

    def __post_init__(self) -> None:
        # Regexes are compiled (and checked) on first use, so importing the table stays cheap.
        if self.kind not in KINDS:
            raise ValueError(f"Rule kind {self.kind!r} must be one of {', '.join(KINDS)}")
        if self.where not in WHERE:
            raise ValueError(f"Rule where {self.where!r} must be one of {', '.join(WHERE)}")
        if self.kind == "type" and self.label not in TASK_TYPES:
            raise ValueError(
                f"Rule type label {self.label!r} must be one of {', '.join(TASK_TYPES)}"
            )
        if not self.label or not self.pattern.strip():
            raise ValueError("a Rule needs a label and a non-empty pattern")


def _table(kind: str, rows: dict[str, tuple[tuple[Any, ...], ...]]) -> tuple[Rule, ...]:
    """Rules from ``{label: ((pattern, weight), (pattern, weight, where), ...)}``."""
    return tuple(Rule(kind, label, *row) for label, group in rows.items() for row in group)


# Weights: 2 = the word alone says what the task is; 1 = a good hint; 0.5 = only with company.
TYPE_RULES = _table("type", {
    "feature": (
        (r"implement\w*|introduce\w*|support|supports|enable|allow\w*", 1.0),
        (r"add|adds|adding|new|create|build|expose|provide|offer|let", 0.5),
        (r"feature|features|functionality|capability|endpoints?|webhooks?|command|subcommand", 1.0),
        (r"api|option|options|flag|login|signup|oauth|sso|notifications?|upload|search", 0.5),
        (r"export|import|payments?|checkout|cart|invite|subscriptions?|rate limit\w*", 0.5),
        (r"users? can", 1.5),
    ),
    "bugfix": (
        (r"fix|fixes|fixing|bug|bugs|bugfix|hotfix", 2.0),
        (r"crash\w*|broken|regression|leak|leaks|leaking|deadlocks?|segfault\w*|flaky", 1.5),
        (r"errors?|exceptions?|fails?|failing|failures?|incorrect\w*|wrong|hangs?|freez\w*", 1.0),
        (r"resolve|repair|patch|traceback|500|404|nan|null|undefined|corrupt\w*|off by one", 1.0),
        (r"\w+error|\w+exception", 1.0),
        (r"does not|doesn t|not working|instead of|race condition|issue|issues", 0.5),
        # Symptoms: bug titles often describe what goes wrong rather than the fix.
        (r"cannot|can t|unable|does nothing|nothing happens|no longer|stopped|throws|thrown", 1.5),
        # Handling errors is designed behaviour, not a bug.
        (r"error (handling|paths?|cases?|codes?)|handle errors", -1.0),
    ),
    "refactor": (
        (r"refactor\w*|restructur\w*|reorgani[sz]\w*|decoupl\w*|modulari[sz]\w*", 2.0),
        (r"clean|cleanup|simplif\w*|extract\w*|split\w*|consolidat\w*|deduplicat\w*", 1.0),
        (r"rename\w*|rewrite|tidy|move|moves|dead code|tech debt|technical debt", 1.0),
        (r"replac\w*|unused|legacy|convert\w*|remove|delete", 0.5),
        (r"duplicat\w*|abstraction|interface|services|layers?|readability|maintainab\w*", 0.5),
        (r"without (changing|behaviou?r)|no behaviou?r change", 1.5),
    ),
    "test": (
        # Most tasks end with "and test it": the bare word says little outside the title.
        (r"tests|testing|test", 1.0, "title"),
        (r"tests|testing|test", 0.25, "body"),
        (r"unit|coverage|e2e|fixtures?|mocks?|mocking|pytest|jest", 1.0),
        (r"(unit|integration|regression|property|snapshot|end|smoke|load) tests?", 2.0),
        (r"test (suite|cases?|coverage|harness)|vitest|playwright|cypress", 1.5),
        (r"hypothesis", 1.0),
        (r"parametri[sz]\w*|assertions?|tdd|golden|conftest", 1.0),
        # "the test suite passes" is how other work is checked, not work on tests.
        (r"(tests?|suite) (pass|passes|passing|still|stay|stays|green)", -1.5),
    ),
    "docs": (
        (r"docs|documentation|document|documenting|readme|docstrings?|changelog|tutorials?", 2.0),
        (r"guide|guides|howto|how to|reference|wiki|manual|examples?|faq|glossary", 1.0),
        (r"explain\w*|describ\w*|comments?|mkdocs|sphinx|typedoc|javadoc|adr|runbook", 1.0),
        (r"typos?|spelling|grammar|wording", 1.0),
        (r"write|written|contributing|onboarding|diagrams?", 0.5),
    ),
    "infra": (
        (r"ci|cd|deploy\w*|docker\w*|kubernetes|k8s|helm|terraform|ansible|github actions", 2.0),
        (r"pipelines?|containers?|containeri[sz]\w*|infrastructure|infra|provision\w*", 1.0),
        (r"release|releases|packaging|monitoring|alert\w*|observability|prometheus|grafana", 1.0),
        (r"nginx|tls|ssl|certificates?|dns|staging|cron|backups?|dependabot|renovate", 1.0),
        (r"pre commit|makefile|linters?|linting|metrics|telemetry|tracing|opentelemetry", 1.0),
        (r"upgrad\w*|bump\w*|deprecations?", 1.5),
        (r"workflows?|environments?|logging|publish\w*|hooks|versions?", 0.5),
        (r"builds|aws|gcp|azure|cloud|cluster|server|servers|secrets|cache|caching", 0.5),
    ),
    "data": (
        (r"etl|elt|ingest\w*|backfill\w*|warehouse|parquet|datasets?|dbt|airflow|spark", 2.0),
        (r"csv|csvs|migrat\w*|schema|schemas|database|databases|tables?|columns?|records", 1.0),
        (r"sql|queries|aggregat\w*|transform\w*|normali[sz]\w*|cleans?|cleaning|imports?", 0.5),
        (r"data|analytics|reports?|reporting|pandas|dataframes?|jobs?|batch|indexes", 0.5),
        (r"data (pipeline|model|quality|validation|loader)", 1.5),
    ),
    "ui": (
        (r"ui|ux|frontend|front end|page|pages|screen|screens|components?|modal|modals", 2.0),
        (r"buttons?|forms?|dialogs?|layout|css|styl\w*|themes?|dark mode|responsive|sidebar", 1.0),
        (r"dashboard|charts?|widgets?|navbar|menu|tooltips?|icons?|animations?|a11y", 1.0),
        (r"accessib\w*|react|vue|svelte|angular|tailwind|html|view|views|mobile|display", 0.5),
    ),
    "research": (
        (r"investigat\w*|research\w*|spike|feasibility|poc|proof of concept|prototyp\w*", 2.0),
        (r"evaluat\w*|compare|comparing|comparison|assess\w*|explore|exploration|survey", 1.5),
        (r"benchmark\w*|measure|measuring|profil\w*", 1.5),
        (r"trade offs?|tradeoffs?|alternatives|options|recommend\w*|experiment\w*", 1.0),
        (r"analy[sz]\w*|study|findings|write up|rfc|design doc|pros|cons|viable|find out", 0.5),
    ),
})  # fmt: skip

# Language rules also fire on a tool or framework that implies the language (pytest → python).
STACK_RULES = _table("stack", {
    "python": ((r"python\w*|py|pip|pyproject|venv|virtualenv|poetry|setuptools|mypy|ruff", 1.0),
               (r"pypi|wheels?|tracemalloc|alembic", 1.0),
               (r"pytest|django|flask|fastapi|pandas|numpy|asyncio|pydantic|sqlalchemy", 1.0),
               (r"celery", 1.0),
               (r"jupyter|notebooks?|ipynb|pyspark|pytorch|scikit|sklearn", 1.0)),
    "pytest": ((r"pytest|conftest|fixtures?|parametri[sz]\w*", 1.0),),
    "sqlite": ((r"sqlite\w*", 1.0),),
    "postgresql": ((r"postgres\w*|psql|pg|pgvector|timescale\w*", 1.0),),
    "mysql": ((r"mysql|mariadb", 1.0),),
    "mongodb": ((r"mongo\w*", 1.0),),
    "sql": ((r"sql|sqlite\w*|postgres\w*|mysql|queries|joins?|sqlalchemy|alembic|dbt", 1.0),
            (r"schema|tables?|migrations?|index|indexes", 0.5)),
    "fastapi": ((r"fastapi|uvicorn|pydantic", 1.0),),
    "django": ((r"django|drf", 1.0),),
    "flask": ((r"flask", 1.0),),
    "react": ((r"react|jsx|tsx|nextjs|next js|redux|usestate|useeffect", 1.0),),
    "vue": ((r"vue|vuex|nuxt", 1.0),),
    "angular": ((r"angular", 1.0),),
    "typescript": ((r"typescript|ts|tsx|tsc|tsconfig", 1.0),),
    "javascript": ((r"javascript|js|jsx|npm|yarn|pnpm|eslint|jest|vitest|webpack|vite", 1.0),
                   (r"react|vue|svelte|angular|node|nodejs|express", 0.5)),
    "node": ((r"nodejs|npm|express|nestjs|node (js|service|server|backend|app|script)", 1.0),),
    "rust": ((r"rust|cargo|crates?|tokio|clippy", 1.0),),
    "go": ((r"golang|goroutines?|go (mod|module|modules|service|binary|code|server|cli)", 1.0),
           (r"in go|written in go", 1.0)),
    "java": ((r"java|jvm|maven|gradle|spring|junit", 1.0),),
    "kotlin": ((r"kotlin", 1.0),),
    "csharp": ((r"c#|csharp|dotnet|net core|asp net", 1.0),),
    "cpp": ((r"c\+\+|cpp|cmake", 1.0),),
    "ruby": ((r"ruby|rails|rspec|gem|gems", 1.0),),
    "php": ((r"php|laravel|composer", 1.0),),
    "swift": ((r"swift|swiftui|xcode", 1.0),),
    "docker": ((r"docker\w*|containers?|containeri[sz]\w*|dockerfiles?", 1.0),),
    "kubernetes": ((r"kubernetes|k8s|helm|kubectl|pods?|ingress|kustomize", 1.0),),
    "terraform": ((r"terraform|hcl|tfstate", 1.0),),
    "ansible": ((r"ansible|playbooks?", 1.0),),
    "github-actions": ((r"github actions|gha|github workflows?|actions workflows?|yml", 1.0),
                       (r"ci|workflows?", 0.5)),
    "pandas": ((r"pandas|dataframes?", 1.0),),
    "numpy": ((r"numpy|np|ndarray\w*|vectori[sz]\w*", 1.0),),
    "spark": ((r"spark|pyspark", 1.0),),
    "airflow": ((r"airflow|dags?", 1.0),),
    "ml": ((r"pytorch|torch|tensorflow|keras|sklearn|scikit|model training|embeddings?", 1.0),),
    "jupyter": ((r"jupyter\w*|notebooks?|ipynb|ipywidgets|nbconvert|nbmake", 1.0),),
    "html-css": ((r"html|css|scss|sass|tailwind|stylesheets?|bootstrap|responsive", 1.0),),
    "bash": ((r"bash|shell|sh|zsh|shellcheck", 1.0),),
    "graphql": ((r"graphql|apollo", 1.0),),
    "grpc": ((r"grpc|protobuf|proto", 1.0),),
    "rest": ((r"rest|restful|openapi|swagger|endpoints?", 1.0),),
    "redis": ((r"redis", 1.0),),
    "kafka": ((r"kafka", 1.0),),
    "rabbitmq": ((r"rabbitmq|amqp", 1.0),),
    "celery": ((r"celery", 1.0),),
    "elasticsearch": ((r"elasticsearch|opensearch", 1.0),),
    "aws": ((r"aws|s3|ec2|ecs|eks|dynamodb|cloudformation|sqs|sns|cloudwatch|iam", 1.0),
            (r"lambda", 0.5)),
    "gcp": ((r"gcp|bigquery|gke|cloud run|gcs", 1.0),),
    "azure": ((r"azure", 1.0),),
    "nginx": ((r"nginx", 1.0),),
    "markdown": ((r"markdown|md|mkdocs|readme", 1.0),),
    "sphinx": ((r"sphinx|rst|restructuredtext|autodoc", 1.0),),
    "oauth": ((r"oauth\w*|oidc|openid|jwt|sso|saml", 1.0),),
    "websocket": ((r"websockets?|socket io", 1.0),),
    "playwright": ((r"playwright|cypress|selenium", 1.0),),
    "git": ((r"git|rebase|worktrees?", 1.0),),
})  # fmt: skip

# Signed steps on a base of 2 (see nborch.team.classify). A label counts once per task, at the weight
# of its strongest matching rule, so a label may have several rules.
COMPLEXITY_RULES = _table("complexity", {
    "migration": ((r"migrat\w*|port|porting|upgrad\w*|backfill\w*", 1.0),),
    "concurrency": ((r"concurren\w*|parallel\w*|async\w*|threads?|threading|multithread\w*", 1.0),
                    (r"race|locks?|locking|deadlocks?|atomic\w*|synchroni[sz]\w*", 1.0)),
    "distributed": ((r"distributed|microservices?|clusters?|sharding|shards?|replication", 1.5),
                    (r"replicas?|consensus|multi region|queues?|kafka|eventual\w*", 1.5)),
    "security": ((r"security|secure|encrypt\w*|vulnerab\w*|cve|xss|csrf|injection", 1.0),
                 (r"sanitis\w*|sanitiz\w*|secrets?|audit\w*", 1.0)),
    "auth": ((r"auth|authenticat\w*|authori[sz]\w*|oauth\w*|sso|saml|rbac|permissions?", 0.5),
             (r"login|jwt|sessions?", 0.5)),
    "cross-cutting": ((r"across (the|all|multiple|several|many|every|modules?|services)", 1.0),
                      (r"across (packages|files|repos?|teams|codebase)", 1.0),
                      (r"codebase|monolith|system wide|end to end", 0.5)),
    "compatibility": ((r"zero downtime|backwards? compat\w*|rollback|roll back|data loss", 1.0),
                      (r"consistency|transactions?|idempoten\w*", 1.0)),
    "architecture": ((r"architecture|redesign|overhaul|rearchitect\w*|re architect\w*", 1.0),),
    "performance": ((r"performance|optimi[sz]\w*|latency|throughput|scal\w*|real time", 0.5),
                    (r"realtime|streaming|websockets?", 0.5)),
    # Lowerers say most in the title ("Fix typo in README"); a body may mention them in passing.
    "typo": ((r"typos?|misspell\w*|spelling", -2.0, "title"),
             (r"typos?|misspell\w*|spelling", -1.0, "body")),
    "rename": ((r"rename\w*", -1.0, "title"), (r"rename\w*", -0.5, "body")),
    "docstring": ((r"docstrings?|comments?", -1.0, "title"),
                  (r"docstrings?|comments?", -0.5, "body")),
    "readme": ((r"readme|changelog", -0.5),),
    "small": ((r"trivial|minor|cosmetic|wording|one line|single line|bump\w*|tweak\w*", -1.0),
              # In a body these describe the result ("small classes"), not the work.
              (r"small|tiny|simple|quick", -1.0, "title")),
})  # fmt: skip

DEFAULT_RULES: tuple[Rule, ...] = TYPE_RULES + STACK_RULES + COMPLEXITY_RULES
