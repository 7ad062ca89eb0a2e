"""The PostgreSQL store's small pure parts: the SQL translation of the shared row code, the
`--db` URL (its `schema` parameter, never its password in messages), namespace schemas."""

from __future__ import annotations

import pytest

from oeskit.errors import ConfigError
from oeskit.store.postgres.connection import PgUrl, namespace_schema, shown, translate


@pytest.mark.parametrize(
    ("sqlite", "postgres"),
    [
        ("SELECT 1 FROM t WHERE a = ? AND b = ?", "SELECT 1 FROM t WHERE a = %s AND b = %s"),
        (
            "UPDATE t SET s = ? WHERE id IN (SELECT value FROM json_each(?))",
            "UPDATE t SET s = %s WHERE id IN "
            "(SELECT value FROM jsonb_array_elements_text(%s::jsonb))",
        ),
    ],
    ids=["placeholders", "json_each"],
)
def test_translate(sqlite: str, postgres: str) -> None:
    """`?` becomes `%s`; json_each(?) becomes jsonb_array_elements_text, whose column is also
    named `value`."""
    assert translate(sqlite) == postgres


def test_url_schema_parameter_is_ours() -> None:
    """`?schema=` picks the default namespace's schema and is not passed to libpq."""
    url = PgUrl.parse("postgresql://u:pw@db.example:5433/sandbox?schema=team_a&sslmode=require")
    assert url.schema == "team_a"
    assert url.conninfo == "postgresql://u:pw@db.example:5433/sandbox?sslmode=require"
    assert url.shown == "postgresql://u@db.example:5433/sandbox"
    assert PgUrl.parse("postgresql://u@h/d").schema == "public"
    assert url.with_schema("x").endswith("?sslmode=require&schema=x")


def test_messages_never_show_the_password() -> None:
    assert shown("postgresql://u:secret@h:1/d") == "postgresql://u@h:1/d"
    assert shown("postgresql://u:secret@h:1/d?schema=s") == "postgresql://u@h:1/d?schema=s"
    assert shown("/var/lib/oeskit.db") == "/var/lib/oeskit.db"


def test_a_schema_name_must_be_plain() -> None:
    with pytest.raises(ConfigError, match="not a lower-case PostgreSQL name"):
        PgUrl.parse('postgresql://u@h/d?schema=x";drop')


def test_namespace_schemas() -> None:
    """Beside `public` a namespace is oeskit_ns_<name>; beside another schema, <schema>_ns_."""
    assert namespace_schema("public", "run-42") == "oeskit_ns_run-42"
    assert namespace_schema("team_a", "run-42") == "team_a_ns_run-42"
