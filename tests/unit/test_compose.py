"""The production shape: docker-compose.yml and the Dockerfile agree with each other and with config.py."""

import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml

import config

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("migrate", "api", "worker")
REAL_JWT_SECRET = "a-long-random-secret-for-the-compose-test-0123456789"


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
    return [
        (parts[0].upper(), parts[1] if len(parts) > 1 else "")
        for parts in (line.split(maxsplit=1) for line in lines if line and not line.startswith("#"))
    ]


def healthcheck_command(service: dict) -> str:
    test = service["healthcheck"]["test"]
    return test if isinstance(test, str) else " ".join(test)


def settings_env_names() -> set[str]:
    """The environment variable names config.Settings reads (case-insensitively, so lowercased)."""
    names = set()
    for name, field in config.Settings.model_fields.items():
        alias = field.validation_alias
        names.add(alias.lower() if isinstance(alias, str) else name)
    return names


def test_compose_has_exactly_the_production_services(services):
    assert set(services) == {"postgres", "temporal", "temporal-ui", "migrate", "api", "worker"}


def test_infrastructure_images(services):
    assert services["postgres"]["image"] == "postgres:16"
    assert services["temporal"]["image"].startswith("temporalio/auto-setup")
    assert services["temporal-ui"]["image"].startswith("temporalio/ui")


def test_application_services_are_built_from_this_repository(services):
    for name in APP_SERVICES:
        assert services[name]["build"] == ".", name
        assert "image" not in services[name], name


def test_each_application_service_runs_its_own_process(services):
    assert "command" not in services["api"]  # the image's default CMD runs uvicorn
    assert services["worker"]["command"] == ["python", "worker.py"]
    assert services["migrate"]["command"] == ["alembic", "upgrade", "head"]


def test_published_ports(services):
    assert services["temporal"]["ports"] == ["7233:7233"]
    assert services["temporal-ui"]["ports"] == ["8233:8080"]
    assert services["api"]["ports"] == ["8000:8000"]


def test_health_checks(services):
    assert "pg_isready" in healthcheck_command(services["postgres"])
    temporal_check = healthcheck_command(services["temporal"])
    assert "temporal operator cluster health" in temporal_check or "tctl" in temporal_check
    assert "/healthz" in healthcheck_command(services["api"])
    assert "8000" in healthcheck_command(services["api"])


def test_postgres_keeps_its_data_in_a_named_volume(compose, services):
    volume = services["postgres"]["volumes"][0].split(":")[0]
    assert volume in compose["volumes"]


def test_temporal_runs_on_the_shared_postgres(services):
    env = services["temporal"]["environment"]
    assert env["DB"] == "postgres12"
    assert env["POSTGRES_SEEDS"] == "postgres"
    assert env["DB_PORT"] == "5432"
    assert env["POSTGRES_USER"] == services["postgres"]["environment"]["POSTGRES_USER"]
    assert env["POSTGRES_PWD"] == services["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert services["temporal"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}


def test_temporal_ui_talks_to_temporal(services):
    assert services["temporal-ui"]["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert services["temporal-ui"]["depends_on"]["temporal"]["condition"] == "service_healthy"


def test_migrations_wait_for_a_healthy_database(services):
    assert services["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert services["migrate"]["restart"] == "no"


@pytest.mark.parametrize("name", ["api", "worker"])
def test_api_and_worker_start_after_migrations_and_healthy_dependencies(services, name):
    assert services[name]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "temporal": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }


@pytest.mark.parametrize("name", APP_SERVICES)
def test_every_application_env_var_is_a_settings_field(services, name):
    unknown = {var for var in services[name]["environment"] if var.lower() not in settings_env_names()}
    assert not unknown, f"{name} sets variables config.Settings does not read: {sorted(unknown)}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_application_env_points_at_the_compose_services(services, name):
    env = services[name]["environment"]
    assert env["ENVIRONMENT"] == "production"
    assert env["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in env["DATABASE_URL"]
    assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert env["JWT_SECRET"] == "${JWT_SECRET:?set JWT_SECRET}"
    assert "COMPLIANCE_ADMIN_PASSWORD" in env


def test_settings_accept_the_compose_environment(services, monkeypatch):
    for var, value in services["api"]["environment"].items():
        if value is None:
            monkeypatch.delenv(var, raising=False)
            continue
        value = value.replace("${JWT_SECRET:?set JWT_SECRET}", REAL_JWT_SECRET)
        monkeypatch.setenv(var, re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value))

    settings = config.Settings()

    assert settings.environment == "production"
    assert settings.jwt_secret == REAL_JWT_SECRET
    assert settings.database_url == "postgresql+psycopg://compliance:compliance@postgres:5432/compliance"
    assert (settings.temporal_address, settings.api_host, settings.api_port) == ("temporal:7233", "0.0.0.0", 8000)


def test_dockerfile_uses_python_312_slim(dockerfile):
    assert [args for instruction, args in dockerfile if instruction == "FROM"] == ["python:3.12-slim"]


def test_dockerfile_installs_the_project_with_pip(dockerfile):
    runs = [args for instruction, args in dockerfile if instruction == "RUN"]
    assert any("pyproject.toml" in run and "pip install" in run for run in runs)
    assert any(re.search(r"pip install [^&]*\.(\s|$)", run) for run in runs)


def test_dockerfile_copies_every_project_package_and_module(dockerfile):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    copied = {
        source.rstrip("/") for instruction, args in dockerfile if instruction == "COPY" for source in args.split()[:-1]
    }
    packages = {pattern.rstrip("*") for pattern in project["packages"]["find"]["include"]}
    modules = {f"{module}.py" for module in project["py-modules"]}
    assert packages | modules | {"alembic.ini", "migrations", "content"} <= copied


def test_dockerfile_runs_as_a_non_root_user(dockerfile):
    instructions = [instruction for instruction, _ in dockerfile]
    assert "USER" in instructions, "the image never switches away from root"
    last_user = len(instructions) - 1 - instructions[::-1].index("USER")
    assert dockerfile[last_user][1].split(":")[0] not in {"root", "0"}


def test_dockerfile_default_command_runs_the_api(dockerfile):
    commands = [args for instruction, args in dockerfile if instruction == "CMD"]
    assert commands
    assert yaml.safe_load(commands[-1]) == shlex.split("uvicorn api.main:app --host 0.0.0.0 --port 8000")
