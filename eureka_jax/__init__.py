"""eureka-jax: LLM reward design with batched JAX training (after Eureka, Ma et al. 2024)."""

from eureka_jax.errors import EurekaError
from eureka_jax.task import Task, list_tasks, load_task

__all__ = ["EurekaError", "Task", "list_tasks", "load_task"]
__version__ = "0.1.0"
