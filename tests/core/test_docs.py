"""The docs cannot drift from the code: the state-machine tables, the hand-written action tables beside them,
the environment variables, and the README's size."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django_fsm import ANY_OTHER_STATE, ANY_STATE, State

from stateset.management.commands.fsm_tables import fsm_models

ROOT = Path(settings.BASE_DIR)
DOCS = ROOT / "docs"


def test_the_generated_state_machine_tables_are_up_to_date():
    """Run `python manage.py fsm_tables` after changing a transition, and commit what it writes."""
    call_command("fsm_tables", "--check")


def test_the_check_fails_on_a_stale_table(tmp_path):
    page = tmp_path / "page.md"
    labels = sorted(fsm_models())
    page.write_text("".join(f"<!-- fsm:{label} -->\nstale\n<!-- /fsm -->\n" for label in labels))
    with pytest.raises(CommandError, match="out of date"):
        call_command("fsm_tables", "--check", "--docs", str(tmp_path))
    call_command("fsm_tables", "--docs", str(tmp_path))
    call_command("fsm_tables", "--check", "--docs", str(tmp_path))
    assert "stale" not in page.read_text()


def test_the_check_fails_on_a_missing_or_unknown_block(tmp_path):
    (tmp_path / "page.md").write_text("<!-- fsm:orders.NoSuchModel -->\n<!-- /fsm -->\n")
    with pytest.raises(CommandError) as raised:
        call_command("fsm_tables", "--check", "--docs", str(tmp_path))
    assert "names no model" in str(raised.value)
    assert "orders.Order has an FSMField but no" in str(raised.value)


def _transitions(label: str) -> dict[str, tuple[set[str], object]]:
    model, fields = fsm_models()[label]
    found: dict[str, tuple[set[str], object]] = {}
    for t in fields[0].get_all_transitions(model):
        sources, _ = found.setdefault(t.name, (set(), t.target))
        sources.add("any" if t.source in (ANY_STATE, ANY_OTHER_STATE) else str(t.source))
    return found


def _hand_rows():
    """(page, model label, action, from, to) for each row of a hand-written `| action | from | to | effect |`
    table that follows a generated block, whose action names a transition of that model."""
    for page in sorted(DOCS.rglob("*.md")):
        label = None
        for line in page.read_text().splitlines():
            marker = re.match(r"<!-- fsm:([\w.]+) -->", line)
            if marker:
                label = marker.group(1)
                continue
            if label is None or not line.startswith("| ") or line.startswith(("| action |", "| `")):
                continue
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if len(cells) < 3 or not cells[0]:
                continue
            action = cells[0].split()[0]
            if action in _transitions(label):
                yield page.name, label, action, cells[1], cells[2]


def test_the_hand_written_action_tables_agree_with_the_models():
    """The per-app pages keep a hand-written table of what each action does; its `from` and `to` columns
    (where they are plain state names) must say what the generated table says."""
    checked = 0
    for page, label, action, source, target in _hand_rows():
        sources, declared_target = _transitions(label)[action]
        source = source.removesuffix(" (all of them)")
        if re.fullmatch(r"[a-z_]+(, [a-z_]+)*", source):
            assert set(source.split(", ")) == sources, f"{page}: {label}.{action} from {source!r}"
            checked += 1
        if re.fullmatch(r"[a-z_]+", target) and not isinstance(declared_target, State):
            assert target == str(declared_target), f"{page}: {label}.{action} to {target!r}"
        if target == "(unchanged)":
            assert declared_target is None, f"{page}: {label}.{action} is not status-preserving"
    assert checked > 50  # every app page's tables were read


def _env_vars_in_settings() -> set[str]:
    text = (ROOT / "stateset" / "settings.py").read_text()
    return set(re.findall(r'os\.environ\.get\("([A-Z_]+)"', text)) | set(re.findall(r'env_bool\("([A-Z_]+)"', text))


def _env_table(path: Path) -> str:
    text = path.read_text()
    start = text.index("| variable | default | meaning |")
    end = text.index("\n\n", start)
    return text[start:end]


def test_every_environment_variable_is_in_the_one_table():
    """The README's configuration table and the operations page's are the same table, and name every variable
    the settings read."""
    readme, operations = _env_table(ROOT / "README.md"), _env_table(DOCS / "operations.md")
    assert readme == operations
    for name in _env_vars_in_settings():
        assert f"| `{name}` |" in readme, name


def test_the_readme_stays_short():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.encode()) <= 12_000
    assert "make run" in readme and "make test" in readme
    for link in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (ROOT / link).is_file(), link
