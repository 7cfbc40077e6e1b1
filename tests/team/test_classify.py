"""Tests for nborch.team.classify: task type, complexity, tech stack, confidence and reasons."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from nborch.plan.build import build_plan
from nborch.plan.model import Criterion, Plan, Task
from nborch.team.classify import (
    TASK_TYPES,
    Classification,
    Classifications,
    classify,
    classify_plan,
)
from nborch.team.rules import DEFAULT_RULES, Rule

# (title, overview, expected type, one expected tech stack item). The rules were tuned on these,
# by general word lists and weights, never by keying on a title.
TUNING = [
    # feature
    ("Add OAuth login with GitHub",
     ("Let users sign in with their GitHub account using the OAuth authorization code flow in "
      "the Flask app."),
     "feature", "flask"),
    ("Implement CSV export for invoices",
     "Add an endpoint in the FastAPI service that streams the selected invoices as a CSV download.",
     "feature", "fastapi"),
    ("Support webhooks for order events",
     ("Send a signed POST request to registered URLs whenever an order changes state; store "
      "subscriptions in PostgreSQL."),
     "feature", "postgresql"),
    ("Add rate limiting to the public API",
     "Limit each API key to 100 requests per minute using a Redis token bucket.",
     "feature", "redis"),
    ("Implement password reset via email",
     "Users can request a reset link; tokens expire after one hour. Django backend.",
     "feature", "django"),
    ("Add a --dry-run flag to the deploy command",
     "The CLI should print what it would do without touching any server. Written in Go with cobra.",
     "feature", "go"),
    # bugfix
    ("Fix crash when config file is empty",
     ("Loading an empty YAML config raises a TypeError in the Python loader; treat it as an "
      "empty mapping."),
     "bugfix", "python"),
    ("Resolve race condition in job scheduler",
     "Two workers can pick the same job; add row locking in PostgreSQL so each job runs once.",
     "bugfix", "postgresql"),
    ("Dates shown one day off for users in UTC-5",
     "The React calendar converts timestamps with the browser timezone twice; fix the conversion.",
     "bugfix", "react"),
    ("Memory leak in websocket handler",
     ("Connections that close abnormally are never removed from the registry in the Node "
      "server, so memory grows until restart."),
     "bugfix", "websocket"),
    ("Fix flaky integration test for payments",
     ("The test depends on dict ordering and fails randomly on CI; make it deterministic with "
      "pytest."),
     "bugfix", "pytest"),
    ("Handle null values in the pandas import step",
     "Rows with missing prices raise a ValueError; skip them and log a warning.",
     "bugfix", "pandas"),
    # refactor
    ("Refactor payment module into services",
     ("Split the 1,200-line payments.py into small service classes with clear interfaces; no "
      "behaviour change."),
     "refactor", "python"),
    ("Extract shared validation helpers",
     "Three Django views duplicate the same form validation; move it into one module and reuse it.",
     "refactor", "django"),
    ("Replace callbacks with async/await in the API client",
     "Convert the TypeScript HTTP client from nested callbacks to promises and async/await.",
     "refactor", "typescript"),
    ("Remove dead code from the legacy importer",
     "Delete unused functions and the Python 2 compatibility shims left from the old CSV importer.",
     "refactor", "python"),
    ("Rename Config to Settings across the codebase",
     "Mechanical rename in the Rust crate; keep a deprecated alias for one release.",
     "refactor", "rust"),
    # test
    ("Add unit tests for parser",
     "Cover the markdown parser's edge cases (empty headings, CRLF, unicode) with pytest.",
     "test", "pytest"),
    ("Increase test coverage of the billing service to 90%",
     "Write pytest tests for refunds, proration and currency rounding.", "test", "pytest"),
    ("End-to-end tests for checkout flow with Playwright",
     "Script the happy path and card-declined path against the staging site.",
     "test", "playwright"),
    ("Add property-based tests for the date utilities",
     "Use Hypothesis to generate ranges and check invariants of the Python date helpers.",
     "test", "python"),
    ("Write Jest tests for the cart reducer",
     "Cover add, remove and quantity updates of the Redux reducer.", "test", "javascript"),
    # docs
    ("Write API reference docs",
     ("Document every public endpoint of the REST API with request and response examples in "
      "OpenAPI."),
     "docs", "rest"),
    ("Update README with installation steps",
     "Explain how to install with pip, set up the virtualenv and run the CLI.", "docs", "python"),
    ("Add docstrings to the scheduling module",
     "Every public function in scheduler.py gets a NumPy-style docstring with an example.",
     "docs", "python"),
    ("Write a getting started tutorial",
     "A Jupyter notebook that walks a new user through loading data and training the first model.",
     "docs", "jupyter"),
    ("Document the deployment process",
     ("A runbook for releasing to Kubernetes: build, push the image, roll out with Helm, and "
      "roll back."),
     "docs", "kubernetes"),
    ("Add a CONTRIBUTING guide",
     "Describe the branch naming, commit message format and how to run ruff and pytest locally.",
     "docs", "pytest"),
    # infra
    ("Set up GitHub Actions CI",
     "Run ruff and pytest on every push for Python 3.11 and 3.12.", "infra", "github-actions"),
    ("Containerize the API with Docker",
     ("Write a multi-stage Dockerfile and a docker-compose file for local development with "
      "PostgreSQL."),
     "infra", "docker"),
    ("Provision staging environment with Terraform",
     "Create the VPC, an RDS Postgres instance and an ECS service on AWS.", "infra", "terraform"),
    ("Deploy the worker to Kubernetes",
     "Add a Deployment, a HorizontalPodAutoscaler and a Helm chart for the Celery worker.",
     "infra", "kubernetes"),
    ("Add Prometheus metrics and Grafana dashboard",
     "Expose request latency and error counters from the Go service and chart them.",
     "infra", "go"),
    ("Publish the package to PyPI on tag",
     ("Build wheels with cibuildwheel in the release workflow and upload them with trusted "
      "publishing."),
     "infra", "python"),
    ("Add pre-commit hooks for linting",
     "Run ruff, black and shellcheck on staged files.", "infra", "python"),
    # data
    ("Build ETL job for sales CSVs",
     ("Load the daily CSV exports from S3, clean them with pandas and write Parquet files "
      "partitioned by date."),
     "data", "pandas"),
    ("Migrate user table to PostgreSQL",
     ("Move the users table from SQLite to PostgreSQL with an Alembic migration and a backfill "
      "script."),
     "data", "postgresql"),
    ("Deduplicate customer records in the warehouse",
     "Write a dbt model that merges customers by normalized email and keeps the latest address.",
     "data", "sql"),
    ("Nightly aggregation of usage metrics",
     "An Airflow DAG that aggregates raw events into daily per-account usage tables in BigQuery.",
     "data", "airflow"),
    ("Import product catalog from supplier XML feed",
     "Parse the XML, map fields to our schema and upsert into the products table (SQLAlchemy).",
     "data", "python"),
    # ui
    ("Dashboard page with React charts",
     ("Show weekly revenue and active users as line charts using Recharts; data comes from "
      "/api/stats."),
     "ui", "react"),
    ("Add dark mode toggle",
     ("A switch in the settings menu that flips the Tailwind theme and remembers the choice in "
      "localStorage."),
     "ui", "html-css"),
    ("Make the signup form responsive",
     "The form overflows on phones below 400px; rework the CSS grid and button sizes.",
     "ui", "html-css"),
    ("Improve keyboard accessibility of the modal dialog",
     ("Trap focus inside the dialog, close on Escape and restore focus to the trigger button. "
      "Vue 3 component."),
     "ui", "vue"),
    ("Redesign the settings screen",
     "New layout with grouped sections and inline validation messages, built in SwiftUI.",
     "ui", "swift"),
    # research
    ("Investigate memory spike during PDF export",
     "Profile the Python worker with tracemalloc and report which allocations grow; no fix yet.",
     "research", "python"),
    ("Spike: evaluate caching options for the catalog API",
     ("Compare Redis, Memcached and an in-process LRU cache on hit rate and latency; write up a"
      " recommendation."),
     "research", "redis"),
    ("Evaluate Rust for the image resizing service",
     "Build a small prototype and benchmark it against the current Node implementation.",
     "research", "rust"),
    ("Research vector databases for semantic search",
     "Assess pgvector, Qdrant and Weaviate for 10M embeddings: cost, latency, operational burden.",
     "research", "postgresql"),
    ("Compare GraphQL and REST for the mobile API",
     "List the trade-offs for our React Native app and recommend one with a short design doc.",
     "research", "graphql"),
    # Round 2: a first held-out set, scored 9/13 before it was folded into tuning (see below).
    ("Allow admins to export audit logs as JSON",
     "A new endpoint in the Express app returns audit events for a date range, paginated.",
     "feature", "node"),
    ("Schedule weekly digest emails",
     ("Send each user a summary of last week's activity using Celery beat and the existing "
      "email templates."),
     "feature", "celery"),
    ("Login button does nothing on Safari",
     ("Clicking the button throws 'undefined is not a function' in our TypeScript bundle; "
      "reproduce and fix."),
     "bugfix", "typescript"),
    ("Users cannot upload files larger than 10 MB",
     ("Nginx rejects the request with 413; raise client_max_body_size and add a clear error "
      "message."),
     "bugfix", "nginx"),
    ("Split monolithic utils.py into focused modules",
     ("Group the helpers by concern (paths, dates, text) and update imports; behaviour must not"
      " change."),
     "refactor", "python"),
    ("Snapshot tests for the invoice PDF renderer",
     "Render three sample invoices and compare against stored golden files with pytest.",
     "test", "pytest"),
    ("Write an architecture overview for new contributors",
     "A Markdown page with a diagram of the services and how requests flow through them.",
     "docs", "markdown"),
    ("Automate nightly database backups",
     "A cron job on the EC2 host dumps PostgreSQL to S3 and keeps 14 days of snapshots.",
     "infra", "aws"),
    ("Upgrade Django from 3.2 to 4.2",
     "Fix deprecations, update settings and make sure the test suite passes on the new version.",
     "infra", "django"),
    ("Load clickstream events into the warehouse",
     "Ingest the JSON event files from Kafka into partitioned tables with Spark.", "data", "spark"),
    ("Mobile navigation drawer",
     ("Replace the top menu with a slide-out drawer on screens narrower than 768px using CSS "
      "transitions."),
     "ui", "html-css"),
    ("Assess feasibility of offline mode",
     ("Find out whether service workers and IndexedDB can keep the React app usable offline; "
      "summarise risks."),
     "research", "react"),
    ("Benchmark JSON parsers for the ingest service",
     ("Measure orjson, ujson and the standard library on our real Python payloads and recommend"
      " one."),
     "research", "python"),
]  # fmt: skip

# Written after the rules were tuned on TUNING, and not used to change them: an honest check.
# History: a first held-out set scored 9/13; it exposed bug symptoms without a "fix" word,
# dependency upgrades and benchmarks; the rules were generalised and that set joined TUNING as
# round 2. This second set then scored 12/13, and still does after later changes made for the
# bundled demo plan (implementation notes no longer count for the type; size steps recalibrated).
HELD_OUT = [
    ("Let users pin favourite projects",
     ("Pinned projects appear at the top of the sidebar; persist the choice per user in the "
      "Rails backend."),
     "feature", "ruby"),
    ("Bulk delete for archived messages",
     ("Select many archived messages and delete them in one request; the Spring Boot API gets a"
      " new batch endpoint."),
     "feature", "java"),
    ("Totals are rounded incorrectly in monthly invoices",
     ("Half-cent amounts round down instead of half-up; switch to Decimal with ROUND_HALF_UP in"
      " the Python billing code."),
     "bugfix", "python"),
    ("Worker exits silently after database reconnect",
     "After a PostgreSQL failover the Go worker stops consuming jobs without logging anything.",
     "bugfix", "postgresql"),
    ("Move HTTP retry logic into a single client wrapper",
     ("Five call sites implement their own retry loops; centralise them in one wrapper around "
      "the Python requests library."),
     "refactor", "python"),
    ("Add integration tests for the S3 upload path",
     "Use moto to fake S3 and cover retries, multipart uploads and permission errors with pytest.",
     "test", "pytest"),
    ("Document environment variables",
     "List every setting the service reads, its default and an example, in docs/configuration.md.",
     "docs", "markdown"),
    ("Write a migration guide for v2",
     "Explain the breaking changes in the TypeScript SDK and show before/after code for each.",
     "docs", "typescript"),
    ("Move CI from Travis to GitHub Actions",
     "Port the build matrix, caching and the release job to a workflow file.",
     "infra", "github-actions"),
    ("Set up log shipping to Elasticsearch",
     "Ship container logs with Fluent Bit to an Elasticsearch cluster and keep 30 days.",
     "infra", "elasticsearch"),
    ("Backfill missing country codes in orders",
     "Derive the country from the billing address for 2M historical rows; run in batches in SQL.",
     "data", "sql"),
    ("Empty states for the project list",
     ("Show an illustration and a 'Create project' button when the list is empty, in the "
      "Angular app."),
     "ui", "angular"),
    ("Explore replacing Celery with a lighter job queue",
     "Try RQ and Dramatiq on our workload, note operational differences and propose next steps.",
     "research", "celery"),
]  # fmt: skip


def _task(i: int, title: str, overview: str = "", **kw: object) -> Task:
    return Task(id=str(i), title=title, overview=overview, **kw)  # type: ignore[arg-type]


def _accuracy(table: list[tuple[str, str, str, str]]) -> tuple[float, list[str]]:
    misses = []
    for i, (title, overview, kind, _) in enumerate(table):
        got = classify(_task(i, title, overview))
        if got.task_type != kind:
            misses.append(f"{title!r}: expected {kind}, got {got.task_type} {got.reasons}")
    return 1 - len(misses) / len(table), misses


class TestAccuracy:
    def test_tuning_table_types(self, record_property: pytest.RecordProperty) -> None:
        """At least 90% of the realistic tuning tasks get the expected type."""
        accuracy, misses = _accuracy(TUNING)
        record_property("tuning_accuracy", accuracy)
        print(f"tuning accuracy: {accuracy:.3f} on {len(TUNING)} tasks", *misses, sep="\n")
        assert len(TUNING) >= 45
        assert accuracy >= 0.9, misses

    def test_held_out_table_types(self, record_property: pytest.RecordProperty) -> None:
        """At least 75% of the held-out tasks, written after tuning, get the expected type."""
        accuracy, misses = _accuracy(HELD_OUT)
        record_property("held_out_accuracy", accuracy)
        print(f"held-out accuracy: {accuracy:.3f} on {len(HELD_OUT)} tasks", *misses, sep="\n")
        assert accuracy >= 0.75, misses

    @pytest.mark.parametrize("title, overview, kind, stack", TUNING + HELD_OUT)
    def test_stack_item_found(self, title: str, overview: str, kind: str, stack: str) -> None:
        """Every table task names the technology its text mentions."""
        assert stack in classify(_task(0, title, overview)).tech_stack


def _big_migration() -> Task:
    return Task(
        id="9", title="Migrate the monolith to distributed microservices",
        overview="Split billing, accounts and search out of the Django monolith into services on "
                 "Kubernetes, with zero downtime and data replication between regions.",
        key_activities=("Define service boundaries", "Extract billing", "Extract accounts",
                        "Extract search", "Add a message queue between services",
                        "Dual-write and backfill data", "Cut over traffic", "Remove old code"),
        deliverables=("Three services", "Helm charts", "Runbook"),
        depends_on=("1", "2", "3", "4"),
    )  # fmt: skip


class TestReasons:
    def test_reasons_name_the_deciding_word(self) -> None:
        """The first reason names the word, the place and the points that decided the type."""
        c = classify(_task(1, "Fix crash when config file is empty"))
        assert c.task_type == "bugfix"
        assert c.reasons[0] == 'type=bugfix: "fix" in title, first word (+6.0)'
        assert any(r.startswith("type=bugfix:") and "vs" in r for r in c.reasons)

    def test_reasons_cover_stack_and_complexity(self) -> None:
        """Stack items and complexity steps each come with the words behind them."""
        c = classify(_task(1, "Migrate user table to PostgreSQL"))
        assert any(r.startswith("stack=postgresql:") and '"postgresql"' in r for r in c.reasons)
        assert any(r.startswith("complexity +1.0: migration") for r in c.reasons)
        assert c.reasons[-1].startswith(f"complexity={c.complexity}:")

    def test_phrases_match_across_words(self) -> None:
        """A multi-word pattern matches consecutive words, whatever punctuation sits between."""
        c = classify(_task(1, "End-to-end tests for signup"))
        assert '"end tests"' in c.reasons[0] or '"end to end"' in " ".join(c.reasons)
        assert c.task_type == "test"

    def test_symbols_in_names_survive(self) -> None:
        """C++ and C# stay whole words; node.js splits into node and js."""
        assert "cpp" in classify("Port the renderer to C++").tech_stack
        assert "csharp" in classify("Add C# bindings").tech_stack
        assert "node" in classify("Run the Node.js server in Docker").tech_stack


class TestWeights:
    def test_title_outweighs_body(self) -> None:
        """The same two words decide differently depending on which one is in the title."""
        a = classify(_task(1, "Fix the parser", "Some documentation would also help."))
        b = classify(_task(2, "Documentation for the parser", "Mentions a fix made last week."))
        assert (a.task_type, b.task_type) == ("bugfix", "docs")

    def test_validation_criteria_do_not_set_the_type(self) -> None:
        """Checks such as "pytest passes" add to the stack but do not make a task a test task."""
        check = Criterion.parse("`pytest tests/test_store.py` passes and coverage stays above 90%")
        c = classify(Task(id="1", title="Add a SQLite store", validation=(check,)))
        assert c.task_type == "feature"
        assert {"pytest", "sqlite"} <= set(c.tech_stack)

    def test_title_only_rule_ignores_the_body(self) -> None:
        """A rule with where="title" does not fire on the body."""
        rules = DEFAULT_RULES + (Rule("type", "research", "quokka", 10.0, "title"),)
        assert classify(_task(1, "Add a quokka", ""), rules).task_type == "research"
        assert classify(_task(2, "Add a login page", "quokka"), rules).task_type == "ui"


class TestConfidence:
    def test_bounds(self) -> None:
        """Every confidence on the tables lies in [0, 1]."""
        for i, (title, overview, _, _) in enumerate(TUNING + HELD_OUT):
            assert 0.0 <= classify(_task(i, title, overview)).confidence <= 1.0

    def test_clear_task_is_more_confident_than_a_mixed_one(self) -> None:
        """A large lead over the runner-up gives more confidence than a narrow one."""
        clear = classify("Fix crash in the importer")
        mixed = classify("Document the deployment process")
        assert clear.confidence > mixed.confidence

    @pytest.mark.parametrize("title", ["", "Stuff", "Misc items for later"])
    def test_no_evidence_gives_default_with_low_confidence(self, title: str) -> None:
        """With no type word the task defaults to feature, says so, and is not confident."""
        c = classify(_task(1, title))
        assert c.task_type == "feature"
        assert c.confidence <= 0.3
        assert "no type words matched" in c.reasons[0]


class TestComplexity:
    def test_typo_fix_is_one(self) -> None:
        """Fixing a typo is the simplest kind of task."""
        assert classify(_task(1, "Fix typo in README")).complexity == 1

    def test_big_distributed_migration_is_at_least_four(self) -> None:
        """A distributed migration with many activities and dependencies is hard."""
        c = classify(_big_migration())
        assert c.complexity >= 4
        joined = " ".join(c.reasons)
        assert "distributed" in joined and "migration" in joined and "4 dependencies" in joined

    def test_size_raises_complexity(self) -> None:
        """More activities and dependencies raise the complexity of otherwise equal tasks."""
        small = Task(id="1", title="Add a search box")
        large = Task(id="2", title="Add a search box", key_activities=tuple("abcdefghij"),
                     depends_on=("x", "y"))  # fmt: skip
        assert classify(large).complexity > classify(small).complexity

    def test_always_between_one_and_five(self) -> None:
        """Complexity is clamped to 1-5 however many signals pile up."""
        many = " ".join(["distributed migration concurrency security oauth zero downtime"] * 3)
        assert classify(_task(1, many, many)).complexity == 5
        assert classify(_task(2, "Trivial typo rename in docstring comment")).complexity == 1


class TestRules:
    def test_user_rule_changes_the_outcome(self) -> None:
        """Appending a rule to DEFAULT_RULES changes the type, and the reason names it."""
        task = _task(1, "Tune the quokka thresholds")
        assert classify(task).task_type == "feature"
        mine = DEFAULT_RULES + (Rule("type", "data", "quokka", 3.0),)
        c = classify(task, rules=mine)
        assert c.task_type == "data"
        assert '"quokka" in title' in c.reasons[0]

    def test_rules_may_be_a_list_that_changes(self) -> None:
        """A list of rules is read afresh on every call, so editing it takes effect."""
        rules = list(DEFAULT_RULES)
        assert classify("Tune the quokka", rules).task_type == "feature"
        rules.append(Rule("type", "infra", "quokka", 5.0))
        assert classify("Tune the quokka", rules).task_type == "infra"

    @pytest.mark.parametrize("kwargs, message", [
        ({"kind": "colour", "label": "x", "pattern": "x"}, "kind"),
        ({"kind": "type", "label": "chore", "pattern": "x"}, "type label"),
        ({"kind": "stack", "label": "x", "pattern": "x", "where": "footer"}, "where"),
        ({"kind": "stack", "label": "x", "pattern": "  "}, "pattern"),
    ])  # fmt: skip
    def test_bad_rule_is_refused(self, kwargs: dict[str, str], message: str) -> None:
        """A rule with an unknown kind, type, place or an empty pattern is refused at once."""
        with pytest.raises(ValueError, match=message):
            Rule(**kwargs)  # type: ignore[arg-type]

    def test_space_inside_a_group_is_explained(self) -> None:
        """A pattern that splits a group across words fails with a message saying why."""
        rules = (Rule("type", "infra", "(set up|configure) ci"),)
        with pytest.raises(ValueError, match="spaces separate words"):
            classify("Set up CI", rules)

    def test_default_rules_cover_every_type(self) -> None:
        """Every task type, and every kind of rule, has rules in the default table."""
        assert {r.label for r in DEFAULT_RULES if r.kind == "type"} == set(TASK_TYPES)
        assert {r.kind for r in DEFAULT_RULES} == {"type", "stack", "complexity"}
        assert any(r.weight < 0 for r in DEFAULT_RULES if r.kind == "complexity")


class TestDeterminism:
    def test_same_input_same_output(self) -> None:
        """Classifying the same task twice, or with a cold cache, gives equal results."""
        task = _big_migration()
        first = classify(task)
        rebuilt = tuple(Rule(r.kind, r.label, r.pattern, r.weight, r.where) for r in DEFAULT_RULES)
        assert classify(task) == first == classify(task, rebuilt)

    def test_plan_order_does_not_matter(self) -> None:
        """A task's classification does not depend on the tasks classified before it."""
        tasks = [_task(i, t, o) for i, (t, o, _, _) in enumerate(TUNING)]
        forward = {t.id: c for t, c in classify_plan(tasks)}
        backward = {t.id: c for t, c in classify_plan(reversed(tasks))}
        assert forward == backward


class TestClassifications:
    @pytest.fixture
    def result(self) -> Classifications:
        plan = build_plan("Demo", [
            Task(id="1.1", title="Fix crash when config file is empty", phase="Core"),
            Task(id="1.2", title="Write API reference docs", phase="Core"),
            Task(id="2.1", title="Add unit tests for <parser> & lexer", phase="Quality"),
            Task(id="2.2", title="Fix login redirect loop", phase="Quality"),
        ])  # fmt: skip
        assert isinstance(plan, Plan)
        return classify_plan(plan)

    def test_index_iterate_and_count(self, result: Classifications) -> None:
        """Results are indexed by task id, iterate as (task, classification) pairs in plan order."""
        assert len(result) == 4
        assert result["1.2"].task_type == "docs"
        assert next(iter(result))[0].id == "1.1"
        assert isinstance(result["2.1"], Classification)

    def test_unknown_id_suggests_a_close_one(self, result: Classifications) -> None:
        """Asking for a missing id raises KeyError naming the closest id."""
        with pytest.raises(KeyError, match="did you mean '1.2'"):
            result["1.3"]

    def test_repr_counts_types(self, result: Classifications) -> None:
        """The repr is short and counts tasks per type, most common first."""
        assert repr(result) == "<Classifications 4 tasks: bugfix 2, test 1, docs 1>"

    def test_html_is_escaped(self, result: Classifications) -> None:
        """The HTML table escapes task text and shows the deciding reason."""
        html = result._repr_html_()
        assert "&lt;parser&gt; &amp; lexer" in html and "<parser>" not in html
        assert "4 tasks" in html and "why" in html

    def test_str_is_a_text_table(self, result: Classifications) -> None:
        """print() shows a summary line and one row per task."""
        lines = str(result).splitlines()
        assert lines[0].startswith("4 tasks") and len(lines) == 2 + 1 + 4

    def test_to_frame_columns_and_dtypes(self, result: Classifications) -> None:
        """The frame has the documented columns, a categorical type and list cells."""
        frame = result.to_frame()
        assert list(frame.columns) == ["id", "title", "phase", "task_type", "complexity",
                                       "tech_stack", "confidence", "reasons"]  # fmt: skip
        assert list(frame["task_type"].cat.categories) == list(TASK_TYPES)
        assert frame["complexity"].dtype == "int64" and frame["confidence"].dtype == "float64"
        assert isinstance(frame.loc[0, "reasons"], list)

    def test_to_dict_is_plain(self) -> None:
        """to_dict gives JSON-ready values."""
        import json

        d = classify("Set up GitHub Actions CI").to_dict()
        assert json.loads(json.dumps(d)) == d
        assert d["task_type"] == "infra" and d["tech_stack"][0] == "github-actions"

    def test_pandas_is_not_imported_by_the_module(self) -> None:
        """Importing nborch.team.classify leaves pandas unimported."""
        import subprocess
        import sys

        code = "import sys, nborch.team.classify; print('pandas' in sys.modules)"
        root = Path(__file__).resolve().parents[2]
        out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                             text=True, check=False)  # fmt: skip
        assert (out.returncode, out.stdout.strip()) == (0, "False"), out.stderr


class TestSpeed:
    def test_five_thousand_tasks_under_a_second(
        self, record_property: pytest.RecordProperty
    ) -> None:
        """A 5,000-task plan, each task a few hundred characters, classifies (its time is
        recorded; the figure and its goal of 1 s live in benchmarks/bench_classify.py)."""
        tasks = [
            Task(id=str(i), title=f"{title} (part {i})", overview=f"{overview} See module_{i}.",
                 key_activities=("Write the code", f"Update handler{i}"),
                 validation=(Criterion.parse("`pytest -q` passes"),))
            for i, (title, overview, _, _) in enumerate(TUNING * (5000 // len(TUNING) + 1))
        ][:5000]
        start = time.perf_counter()
        result = classify_plan(tasks)
        elapsed = time.perf_counter() - start
        record_property("seconds_for_5000", elapsed)
        print(f"classified {len(result)} tasks in {elapsed:.3f}s")
        assert len(result) == 5000
        assert {c.task_type for _, c in result} <= set(TASK_TYPES)
