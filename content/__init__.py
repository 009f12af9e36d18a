"""Built-in compliance content: CIS and STIG templates and remediation scripts, as YAML data."""

from content.loader import (
    BuiltinContent,
    CheckDoc,
    ContentError,
    Frameworks,
    ManualRemediation,
    NoRemediation,
    ScriptDoc,
    ScriptRemediation,
    TemplateDoc,
    load_builtin_content,
)

__all__ = [
    "BuiltinContent",
    "CheckDoc",
    "ContentError",
    "Frameworks",
    "ManualRemediation",
    "NoRemediation",
    "ScriptDoc",
    "ScriptRemediation",
    "TemplateDoc",
    "load_builtin_content",
]
