"""The only place built-in registry entries are registered.

Each registry maps a versioned name to a *factory*. Stage factories take a
:class:`codeproof.runtime.Runtime` and return a :class:`codeproof.pipeline.Stage`;
backend factories take a Runtime and return the backend. Entries are lazy
(``"module:attribute"``) so that importing codeproof stays fast and optional
dependencies load only when a configuration names them.
``tests/test_registry_contents.py`` snapshots these names.
"""

from __future__ import annotations

from typing import Any

from codeproof.registry import Registry

__all__ = ["REGISTRIES", "get_registry"]

#: kind -> (name -> "module:factory")
_BUILTINS: dict[str, dict[str, str]] = {
    "stages": {
        # name                          module:factory(runtime) -> Stage
        "rules.validate.v1": "codeproof.rules.stage:make_validate_stage",
        "deid.engine.v1": "codeproof.deid.engine:make_stage",
        "nlp.sections.v1": "codeproof.nlp.stages:sections_stage",
        "nlp.sentences.v1": "codeproof.nlp.stages:sentences_stage",
        "nlp.mentions.v1": "codeproof.nlp.stages:mentions_stage",
        "nlp.context.v1": "codeproof.nlp.stages:context_stage",
        "coding.assign.v1": "codeproof.coding.assign:build_assign_stage",
        "justify.writer.v1": "codeproof.justify.stage:create_justify_stage",
        "review.route.v1": "codeproof.review.routing:create_routing_stage",
        "security.residency.v1": "codeproof.security.residency:residency_stage",
    },
    "storage": {
        "storage.memory.v1": "codeproof.store.factories:memory_store",
        "storage.postgres.v1": "codeproof.store.factories:postgres_store",
        "storage.sqlite.v1": "codeproof.store.factories:sqlite_store",
    },
    "llm": {
        "llm.fake.v1": "codeproof.backends.llm.fake:create_fake_llm",
        "llm.llamacpp.v1": "codeproof.backends.llm.llamacpp:create_llamacpp_llm",
        "llm.openai_compat.v1": "codeproof.backends.llm.openai_compat:create_openai_llm",
    },
    "vectorstore": {
        "vectorstore.memory.v1": "codeproof.backends.vectorstore.memory:create_memory_store",
        "vectorstore.pgvector.v1": "codeproof.backends.vectorstore.pgvector:create_pgvector_store",
    },
    "key_providers": {
        "keys.kms.v1": "codeproof.security.keys:kms_provider",
        "keys.local_file.v1": "codeproof.security.keys:local_file_provider",
        "keys.memory.v1": "codeproof.security.keys:memory_provider",
    },
    "deid_operators": {
        "deid.placeholder.v1": "codeproof.deid.operators:placeholder_factory",
        "deid.redact.v1": "codeproof.deid.operators:redact_factory",
        "deid.surrogate.v1": "codeproof.deid.operators:surrogate_factory",
    },
    "writers": {
        "writer.llamacpp.v1": "codeproof.justify.stage:create_llamacpp_writer",
        "writer.openai.v1": "codeproof.justify.stage:create_openai_writer",
        "writer.template.v1": "codeproof.justify.stage:create_template_writer",
    },
    "verifiers": {
        "verifier.grounding.v1": "codeproof.justify.stage:create_grounding_verifier",
        "verifier.llm.v1": "codeproof.justify.stage:create_model_verifier",
    },
    "queues": {
        "queue.database.v1": "codeproof.jobs.service:open_queue",
    },
    "rule_packs": {
        # rule families (classes called as (claim, context) -> findings)
        "rules.cdi.v1": "codeproof.rules.cdi:CdiRules",
        "rules.drg.v1": "codeproof.rules.drg:DrgRules",
        "rules.em.v1": "codeproof.rules.em:EmRules",
        "rules.hcc.v1": "codeproof.rules.hcc:HccRules",
        "rules.icd10cm.v1": "codeproof.rules.icd10cm_tabular:TabularRules",
        "rules.mce.v1": "codeproof.rules.mce:MceRules",
        "rules.modifiers.v1": "codeproof.rules.ncci:ModifierRules",
        "rules.ncci.v1": "codeproof.rules.ncci:NcciRules",
        "rules.necessity.v1": "codeproof.rules.necessity:NecessityRules",
        "rules.payer.v1": "codeproof.rules.payer:PayerRules",
    },
    "retrievers": {},
}


def _build() -> dict[str, Registry[Any]]:
    registries: dict[str, Registry[Any]] = {}
    for kind, entries in _BUILTINS.items():
        registry: Registry[Any] = Registry(kind)
        for name, target in entries.items():
            registry.register_lazy(name, target)
        registries[kind] = registry
    return registries


REGISTRIES: dict[str, Registry[Any]] = _build()


def get_registry(kind: str) -> Registry[Any]:
    """Return the registry of ``kind`` (``stages``, ``llm``, ``storage``, ...)."""
    return REGISTRIES[kind]
