"""The physical facts the LLM reads, generated from a MuJoCo model (eureka_jax/model_facts.py),
checked on a small model written here whose numbers are known. Fast tier."""

import mujoco
import pytest

from eureka_jax.bridges.isaacgym.context import task_yaml_summary
from eureka_jax.model_facts import model_summary

ARM = """
<mujoco>
  <option timestep="0.005" gravity="1e-05 0 -9.81"/>
  <worldbody>
    <body name="cart">
      <joint name="slider" type="slide" axis="1 0 0" range="-2 2" limited="true" damping="0.5"/>
      <geom name="box" type="box" size="0.2 0.1 0.05" mass="2"/>
      <body name="pole" pos="0 0 0.1">
        <joint name="hinge" type="hinge" axis="0 1 0"/>
        <geom name="rod" type="capsule" fromto="0 0 0 0 0 0.6" size="0.02" mass="0.3"/>
      </body>
    </body>
  </worldbody>
  <actuator>
    <motor name="push" joint="slider" gear="25" ctrlrange="-1 1" ctrllimited="true"/>
    <position name="hold" joint="hinge" kp="8" ctrlrange="-0.5 0.5" ctrllimited="true"
              forcerange="-3 3" forcelimited="true"/>
  </actuator>
</mujoco>
"""


@pytest.fixture(scope="module")
def facts():
    return model_summary(mujoco.MjModel.from_xml_string(ARM), 0.02, 250,
                         "when the pole tilts past 0.5 rad")


def test_the_control_period_and_the_episode_in_seconds(facts):
    assert ("physics timestep 0.005 s x 4 substeps = control period 0.02 s (50 Hz); an episode "
            "is 250 control steps = 5 s") in facts
    assert "- episode end: when the pole tilts past 0.5 rad" in facts
    untimed = model_summary(mujoco.MjModel.from_xml_string(ARM), None, 100)
    assert "an episode is 100 steps" in untimed
    assert "episode end: none before the 100-step time limit" in untimed


def test_a_gravity_nudge_is_stated_as_one(facts):
    assert ("gravity (0, 0, -9.81) m/s^2 (the model file sets x = 1e-05: a numerical nudge, "
            "negligible)") in facts


def test_bodies_joints_and_actuators_with_their_numbers(facts):
    assert "  - cart: 2 kg" in facts and "  - pole: 0.3 kg" in facts
    assert "  - slider: slide, axis (1, 0, 0) at (0, 0, 0), range [-2, 2] m, damping 0.5" in facts
    assert "  - hinge: hinge, axis (0, 1, 0)" in facts
    assert "push: drives slider, control range [-1, 1], motor, force/torque = 25 x control" \
        in facts
    assert "hold: drives hinge, control range [-0.5, 0.5], position servo, kp=8" in facts
    assert "force limited to [-3, 3]" in facts


def test_isaacgym_tasks_get_their_facts_from_the_task_yaml():
    text = task_yaml_summary({"sim": {"dt": 0.01, "gravity": [0.0, 0.0, -9.81]},
                             "env": {"controlFrequencyInv": 2, "episodeLength": 600,
                                     "distRewardScale": -10.0, "rotEps": 0.1, "numEnvs": 4}})
    assert ("- physics timestep 0.01 s x controlFrequencyInv 2 = control period 0.02 s (50 Hz)"
            in text and "- gravity (0, 0, -9.81) m/s^2" in text and "episodeLength: 600" in text)
    # the reward's numbers and the env count are not facts about the physics
    assert "distRewardScale" not in text and "rotEps" not in text and "numEnvs" not in text
