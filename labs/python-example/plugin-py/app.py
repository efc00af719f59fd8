"""A perflab lab written in Python (componentize-py): JSON vs compact MessagePack.

componentize-py looks for the `lab` interface's `describe` in class `Lab` of this module, and
for the `virtual-user` resource in class `VirtualUser` of the module `lab` (lab.py).

Build: perflab builds it for you (`just lab python-example`), or by hand:
    componentize-py -d ../../../plugins/wit -w experiment componentize app -o python-example.wasm
"""

import random

from wit_world import exports
from wit_world.imports import host
from wit_world.imports import types as t


def int_param(params, name, default):
    for p in params:
        if p.name == name and isinstance(p.value, t.Value_Integer):
            return p.value.value
    return default


def codec(name):
    return [t.Setting("codec", t.Value_Text(name))]


class Lab(exports.Lab):
    def describe(self, params):
        users = int_param(params, "users", 200)
        host.log(host.Level.INFO, f"python-example: {users} users per response")
        return t.Description(
            name="python-example",
            summary="The serialization lesson, from a plugin written in Python.",
            params=[t.Param("users", "user records per response", t.Value_Integer(200))],
            variants=[
                t.VariantDef("json", "serde_json", codec("json")),
                t.VariantDef("msgpack-compact", "rmp-serde as arrays", codec("msgpack-compact")),
            ],
            load=t.LoadModel_ConstantVus(t.ConstantVus(4, 5000, 0)),
            quick_load=t.LoadModel_ConstantVus(t.ConstantVus(4, 1500, 0)),
            rounds=3,
            quick_rounds=2,
            warmup_ms=1000,
            thresholds=[],
            teaching=t.Teaching(
                hypothesis="A compact binary encoding makes responses smaller and faster to produce.",
                prediction_prompt=f"{users} users per response: how much smaller is compact MessagePack than JSON, and how much faster?",
                explanation="See codec_bytes_encoded per request: the size shrinks by about half. "
                "Encode time shrinks too, but on loopback the bytes themselves cost little.",
            ),
            needs=[],
            databases=["sqlite", "postgres"],
            body_need=t.BodyNeed_Prefix(1),
        )
