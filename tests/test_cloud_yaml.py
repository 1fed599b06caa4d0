"""The Ray cluster-launcher YAMLs in examples/cloud/, checked offline as far as Ray allows.

They are validated against the autoscaler JSON schema shipped inside the installed ray package, then
filled out with Ray's provider defaults and validated again exactly as `ray up` does before it talks
to the cloud. On top of that: the setup installs this project and ray[default] at a pinned version,
and every Ray process runs with the same RAY_AUTH_MODE.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest
import ray
import yaml

CLOUD = Path(__file__).resolve().parents[1] / "examples" / "cloud"
FILES = sorted(CLOUD.glob("*.yaml"))
SCHEMA = json.loads((Path(ray.__file__).parent / "autoscaler" / "ray-schema.json").read_text())


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_examples_exist_for_aws_and_gcp():
    assert {p.stem for p in FILES} >= {"aws", "gcp"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_yaml_matches_rays_autoscaler_schema(path):
    jsonschema.validate(load(path), SCHEMA)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_yaml_survives_rays_own_prepare_and_validate(path):
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = prepare_config(copy.deepcopy(load(path)))
    validate_config(config)
    assert config["provider"]["type"] == path.stem
    assert config["head_node_type"] in config["available_node_types"]


def test_schema_check_is_not_vacuous():
    broken = load(CLOUD / "aws.yaml")
    broken["available_node_types"]["head"]["min_workers"] = "two"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA)
    del broken["provider"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_setup_installs_the_project_and_pinned_ray_default(path):
    config = load(path)
    setup = " ; ".join(config["setup_commands"])
    assert re.search(r'"ray\[default\]==\d+\.\d+\.\d+"', setup)
    assert "pip install -q -e ~/trilemma" in setup
    assert config["file_mounts"]["~/trilemma"] == "."


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_ray_process_has_the_same_auth_mode(path):
    config = load(path)
    commands = config["head_start_ray_commands"] + config["worker_start_ray_commands"]
    ray_commands = [c for c in commands if "ray st" in c]
    assert ray_commands and all("RAY_AUTH_MODE=disabled" in c for c in ray_commands)
    head = " ".join(config["head_start_ray_commands"])
    worker = " ".join(config["worker_start_ray_commands"])
    port = re.search(r"--head --port=(\d+)", head).group(1)
    assert f"--address=$RAY_HEAD_IP:{port}" in worker
