"""JSON Schema of the three files a user writes: device profiles, suites, model manifests.

`harness schema profile|suite|manifest` prints them (pydantic's model_json_schema). Editors that
read JSON Schema (VS Code's YAML extension, JetBrains) check a file against it; see
docs/profiles.md, docs/suites.md and docs/manifest.md.
"""

from __future__ import annotations

from typing import Any

import pydantic

SCHEMA_ID = "https://edge-harness.invalid/schema/{kind}.json"  # a name, not a download location


def models() -> dict[str, type[pydantic.BaseModel]]:
    from harness.models.manifest import FamilyManifest
    from harness.config.profiles import DeviceProfile
    from harness.config.suites import SuiteFile

    return {"profile": DeviceProfile, "suite": SuiteFile, "manifest": FamilyManifest}


def json_schema(kind: str) -> dict[str, Any]:
    from harness.errors import ConfigError

    found = models().get(kind)
    if found is None:
        raise ConfigError(f"unknown schema {kind!r}; use one of {', '.join(models())}")
    schema = found.model_json_schema(mode="validation")
    if kind == "profile":  # ram and flash also take 'auto' (measured on a local:// device)
        for field in ("ram", "flash"):
            schema["properties"][field]["anyOf"].append({"const": "auto"})
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID.format(kind=kind),
            **schema}
