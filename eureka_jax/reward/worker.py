"""Entry point of the reward checker process: ``python -m eureka_jax.reward.worker FD LIMIT``."""

import sys

from eureka_jax.reward.sandbox import _worker_main

if __name__ == "__main__":
    _worker_main(int(sys.argv[1]), int(sys.argv[2]))
