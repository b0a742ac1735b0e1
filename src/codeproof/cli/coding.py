"""``codeproof train``, ``codeproof eval codiesp`` and ``codeproof eval synthetic``."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import typer

__all__ = ["register"]

eval_app = typer.Typer(help="Score the coder on coded corpora with the official scorer.",
                       no_args_is_help=True)

_DEFAULT_DATA = Path("../shared/data/codiesp-en")
_DEFAULT_SCORER = Path("../shared/eval/score_codiesp.py")


_CONVENTION_HELP = ("Coding convention (coding.convention): ocg = US Official Guidelines "
                    "code set; mentions = every documented condition as stated.")


def _coder_fn(coder_only: bool,
              setting_override: Literal["inpatient", "outpatient"] | None,
              convention: str | None = None) -> object:
    from codeproof.coding.guidelines import CONVENTIONS
    from codeproof.config import load_settings
    from codeproof.errors import ConfigError
    from codeproof.model import Encounter
    from codeproof.runtime import Runtime

    settings = load_settings()
    if convention is not None:
        if convention not in CONVENTIONS:
            raise ConfigError(f"unknown convention {convention!r}; expected "
                              f"{' or '.join(CONVENTIONS)}")
        settings = settings.model_copy(update={"coding": settings.coding.model_copy(
            update={"convention": convention})})
    runtime = Runtime(settings)
    names = runtime.settings.pipeline.stages
    if coder_only or "coding.assign.v1" not in names:
        stages: tuple[str, ...] = ("coding.assign.v1",)
    else:
        stages = tuple(names[: names.index("coding.assign.v1") + 1])
    pipeline = runtime.pipeline(stages) if not coder_only else None
    if pipeline is None:
        from codeproof.coding.assign import build_assign_stage

        stage = build_assign_stage(runtime)

        def run_one(encounter: Encounter) -> Encounter:
            return stage(encounter)
    else:
        def run_one(encounter: Encounter) -> Encounter:
            return pipeline.run(encounter)

    def code(encounters: Sequence[Encounter]) -> list[Encounter]:
        import dataclasses

        out = []
        for encounter in encounters:
            if setting_override:
                encounter = dataclasses.replace(encounter, setting=setting_override)
            out.append(run_one(encounter))
        return out

    return code


def _print(result: object, *, as_json: bool) -> None:
    from codeproof.coding.evaluate import EvalResult

    if not isinstance(result, EvalResult):  # pragma: no cover - typed helper
        return
    if as_json:
        typer.echo(json.dumps({"scores": result.scores, "ece": result.ece,
                               "reliability": result.reliability, "notes": result.notes,
                               "seconds": result.seconds,
                               "notes_per_second": result.notes_per_second}, indent=2))
        return
    s = result.scores
    typer.echo(f"notes: {result.notes}  ({result.notes_per_second} notes/s)")
    typer.echo(f"micro P/R/F1: {s['micro_precision']:.4f} / {s['micro_recall']:.4f} / "
               f"{s['micro_f1']:.4f}")
    typer.echo(f"MAP: {s['map']:.4f}   category micro-F1: {s['category_micro_f1']:.4f}")
    typer.echo(f"auto band (>= {s['auto_band_threshold']}): precision "
               f"{s['auto_band_precision']}  predictions {s['auto_band_predictions']}  "
               f"coverage of gold {s['auto_band_coverage_of_gold']}")
    typer.echo(f"ECE (emitted codes): {result.ece:.4f}")
    typer.echo("reliability:  bin    n  confidence  accuracy")
    for row in result.reliability:
        typer.echo(f"              {row['bin']:.1f} {int(row['n']):5d}  {row['confidence']:.3f}"
                   f"       {row['accuracy']:.3f}")


def register(app: typer.Typer) -> None:
    """Attach the coding commands to the root app."""

    @app.command("train")
    def train(
        data: Path = typer.Option(_DEFAULT_DATA, "--data", help="CodiEsp-en root "
                                  "(with train/text and train/trainD.tsv, trainP.tsv)."),
        out: Path | None = typer.Option(None, "--out", help="Artifact directory (default: "
                                        "the packaged src/codeproof/coding/models/codiesp-v1)."),
        folds: int = typer.Option(5, "--folds", min=2, help="Cross-validation folds."),
        system: list[str] = typer.Option(["ICD-10-CM", "ICD-10-PCS"], "--system",
                                         help="Systems to train (repeatable)."),
    ) -> None:
        """Build the coding model artifact from CodiEsp train (reproducible recipe)."""
        from codeproof.coding.recipe import build_artifact
        from codeproof.config import load_settings

        manifest = build_artifact(data, out, folds=folds, systems=tuple(system),
                                  cache_dir=load_settings().reference_path)
        typer.echo(f"model {manifest['model_version']}")
        for name, report in manifest["cross_validation"].items():
            typer.echo(f"  {name}: held-out P/R/F1 {report['oof_precision']}/"
                       f"{report['oof_recall']}/{report['oof_f1']}  MAP "
                       f"{report['oof_map']}  threshold "
                       f"{report['threshold']}  ECE {report['ece']}  candidate recall "
                       f"{report['candidate_recall']}")

    @eval_app.command("codiesp")
    def eval_codiesp(
        split: str = typer.Option("dev", "--split", help="Split folder under --data: dev, "
                                  "train, test or any other with text/ and <split>D.tsv / "
                                  "<split>P.tsv."),
        system: str = typer.Option("ICD-10-CM", "--system", help="ICD-10-CM (uses "
                                   "<split>D.tsv) or ICD-10-PCS (<split>P.tsv)."),
        data: Path = typer.Option(_DEFAULT_DATA, "--data", help="CodiEsp-en root."),
        scorer: Path = typer.Option(_DEFAULT_SCORER, "--scorer", help="score_codiesp.py."),
        out: Path | None = typer.Option(None, "--out", help="Keep predictions here "
                                        "(default: a temporary folder)."),
        coder_only: bool = typer.Option(False, "--coder-only", help="Run only "
                                        "coding.assign.v1 (skip the stages before it)."),
        setting: str | None = typer.Option(None, "--setting", help="inpatient|outpatient "
                                           "(default: each note's own, outpatient)."),
        convention: str = typer.Option(
            "mentions", "--convention", help=_CONVENTION_HELP + " Default mentions: the "
            "convention the CodiEsp gold was annotated under."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Code a CodiEsp split and print micro P/R/F1, MAP, auto-band precision, ECE."""
        import re

        from codeproof.coding.evaluate import evaluate_folder
        from codeproof.errors import ConfigError, ReferenceDataMissing

        if not re.fullmatch(r"[A-Za-z0-9_-]+", split):
            raise ConfigError(f"invalid split name {split!r}; expected a folder name such "
                              "as dev, train or test")
        if system not in ("ICD-10-CM", "ICD-10-PCS"):
            raise ConfigError(f"unknown system {system!r}; expected ICD-10-CM or ICD-10-PCS")
        suffix = "D" if system == "ICD-10-CM" else "P"
        gold = data / split / f"{split}{suffix}.tsv"
        if not gold.exists():  # e.g. a test split whose gold file has another prefix
            found = sorted((data / split).glob(f"*{suffix}.tsv"))
            if len(found) != 1:
                raise ReferenceDataMissing(f"no gold file {gold.name} under {data / split}")
            gold = found[0]
        if setting not in (None, "inpatient", "outpatient"):
            raise ConfigError(f"unknown setting {setting!r}; expected inpatient or outpatient")
        chosen: Literal["inpatient", "outpatient"] | None = (
            "inpatient" if setting == "inpatient" else
            "outpatient" if setting == "outpatient" else None)
        code = _coder_fn(coder_only, chosen, convention)
        with tempfile.TemporaryDirectory(prefix="codeproof-eval-") as tmp:
            result = evaluate_folder(data / split / "text", gold, out=out or Path(tmp),
                                     scorer=scorer, code=code,  # type: ignore[arg-type]
                                     system=system)
        _print(result, as_json=as_json)

    @eval_app.command("synthetic")
    def eval_synthetic(
        folder: Path = typer.Argument(..., help="A set written by `codeproof eval-data "
                                      "synthetic` (text/*.txt, gold.tsv, manifest.json)."),
        scorer: Path = typer.Option(_DEFAULT_SCORER, "--scorer", help="score_codiesp.py."),
        out: Path | None = typer.Option(None, "--out", help="Keep predictions here."),
        coder_only: bool = typer.Option(False, "--coder-only",
                                        help="Run only coding.assign.v1."),
        convention: str = typer.Option("ocg", "--convention", help=_CONVENTION_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Code a synthetic US note set and score it against its gold.tsv."""
        from codeproof.coding.evaluate import evaluate_folder

        settings_of: dict[str, Literal["inpatient", "outpatient"]] = {}
        manifest = folder / "manifest.json"
        if manifest.exists():
            data = json.loads(manifest.read_text(encoding="utf-8"))
            for item in data.get("notes", []):
                if isinstance(item, dict) and item.get("setting") in ("inpatient",
                                                                      "outpatient"):
                    settings_of[str(item.get("id"))] = item["setting"]
        code = _coder_fn(coder_only, None, convention)
        with tempfile.TemporaryDirectory(prefix="codeproof-eval-") as tmp:
            result = evaluate_folder(folder / "text", folder / "gold.tsv", out=out or Path(tmp),
                                     scorer=scorer, code=code,  # type: ignore[arg-type]
                                     settings_of=settings_of)
        _print(result, as_json=as_json)

    app.add_typer(eval_app, name="eval")
