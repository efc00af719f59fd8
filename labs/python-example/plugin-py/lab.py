"""The virtual-user resource of the python-example lab (see app.py)."""

import random

from wit_world.exports import lab
from wit_world.imports import types as t

from app import int_param


class VirtualUser(lab.VirtualUser):
    def __init__(self, config):
        # Seeded: the same --seed sends the same requests.
        self.rng = random.Random(config.seed)
        self.users = int_param(config.params, "users", 200)

    def next_request(self, iteration):
        count = max(1, self.users + self.rng.randint(-5, 5))
        return t.Request(t.Method.GET, f"/codec/users?count={count}", [], b"", "users")

    def check_response(self, response):
        return [
            t.Check("status is 200", response.status == 200),
            t.Check("body is not empty", len(response.body) > 0),
        ]
