"""Which estate a play uses, and why: the file given, else the sandbox's (`reynard sandbox start` writes
`<data_dir>/sandbox/estate.json`), else ids derived from the scenario's seed. The reason is said, so a
play into files never passes for one on the sandbox."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson

from reynard.simulate.environment import Environment, Estate, derive_estate
from reynard.simulate.reading import ScenarioError

SANDBOX_ESTATE = Path("sandbox") / "estate.json"


@dataclass(frozen=True)
class ChosenEstate:
    estate: Estate
    why: str  # one line for the user: where the ids come from


def read_estate(path: Path) -> Estate:
    """An `Estate.as_json` file; ScenarioError naming it when it is not one."""
    try:
        return Estate.from_json(orjson.loads(path.read_bytes()))
    except OSError as e:
        raise ScenarioError(f"cannot read: {e.strerror or e}", where=str(path)) from None
    except orjson.JSONDecodeError as e:
        raise ScenarioError(f"not JSON: {e}", where=str(path)) from None
    except (KeyError, TypeError, AttributeError) as e:
        raise ScenarioError(f"not an estate (Estate.as_json): {e!r}", where=str(path)) from None


def choose_estate(
    environment: Environment, seed: int, given: Path | None, data_dir: Path | None
) -> ChosenEstate:
    if given is not None:
        estate = read_estate(given)
        return ChosenEstate(estate, f"estate from {given} ({estate.source})")
    sandbox = data_dir / SANDBOX_ESTATE if data_dir is not None else None
    if sandbox is not None and sandbox.is_file():
        estate = read_estate(sandbox)
        where = f" at {estate.endpoint_url}" if estate.endpoint_url else ""
        return ChosenEstate(estate, f"estate from the sandbox{where} ({sandbox})")
    looked = f": no sandbox estate at {sandbox}" if sandbox is not None else ""
    return ChosenEstate(
        derive_estate(environment, seed),
        f"estate derived from the scenario's seed {seed}{looked} (nothing exists in AWS)",
    )


__all__ = ["SANDBOX_ESTATE", "ChosenEstate", "choose_estate", "read_estate"]
