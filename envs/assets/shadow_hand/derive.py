"""Derives the MJX-friendly Shadow Hand scenes in this folder from gymnasium-robotics' assets.

    pip download --no-deps gymnasium-robotics==1.4.2 && unzip gymnasium_robotics-*.whl
    python envs/assets/shadow_hand/derive.py gymnasium_robotics/envs/assets/hand

gymnasium-robotics (MIT; the hand model itself is Apache-2.0, see LICENSE.md here) ships the
Shadow Hand with block and pen scenes. MJX rejects them as they are and, with contact margins
zeroed, they ran at ~55 physics steps/s at batch 64 on a 2-core CPU. What this script changes,
and why:

- visual meshes are dropped (every body has an explicit <inertial>, so masses are unchanged)
  and so is the forearm's convex collision mesh: MJX's mesh contacts are the slow part, and the
  forearm never touches the object;
- collisions are explicit pairs only: the object with the five distal and the three middle
  phalanges, the thumb's middle phalanx, the two palm boxes and the floor; every other geom has
  contype = conaffinity = 0 (the 19 hand self-collision pairs are gone: fingers may pass
  through each other, the price of speed);
- contact and joint margins are zero (MJX does not support geom margins on these pairs);
- of the 44 fixed tendons only the four J0-J1 coupling tendons of the fingers are kept (the
  others only restate joint ranges);
- the goal ("target") body loses its free joint and becomes a mocap body: it is drawn, never
  simulated;
- touch sensors go (unsupported by MJX; the env reads positions directly);
- solver: Newton, 6 iterations, 6 line-search iterations; ``eulerdamp`` stays enabled
  (disabling it made every env NaN within 21 physics steps).
"""

import sys
from pathlib import Path

import mujoco

HERE = Path(__file__).resolve().parent
SCENES = {"manipulate_pen.xml": "hand_pen.xml", "manipulate_block.xml": "hand_block.xml"}
OBJECT_PARTNERS = ("ffdistal", "mfdistal", "rfdistal", "lfdistal", "thdistal", "ffmiddle",
                   "mfmiddle", "rfmiddle", "lfmiddle", "thmiddle", "palm0", "palm1")
KEPT_TENDONS = ("robot0:T_FFJ1c", "robot0:T_MFJ1c", "robot0:T_RFJ1c", "robot0:T_LFJ1c")


def derive(source: Path) -> str:
    spec = mujoco.MjSpec.from_file(str(source))
    for geom in list(spec.geoms):
        if geom.type == mujoco.mjtGeom.mjGEOM_MESH:
            spec.delete(geom)
    for mesh in list(spec.meshes):
        spec.delete(mesh)
    dropped = set()
    for texture in list(spec.textures):
        if texture.file:  # image textures (the block's letters): drawn only, and files we drop
            dropped.add(texture.name)
            spec.delete(texture)
    for material in spec.materials:
        material.textures = ["" if t in dropped else t for t in material.textures]
    for pair in list(spec.pairs):
        spec.delete(pair)
    for tendon in list(spec.tendons):
        if tendon.name not in KEPT_TENDONS:
            spec.delete(tendon)
    for sensor in list(spec.sensors):
        spec.delete(sensor)
    for geom in spec.geoms:
        geom.contype, geom.conaffinity, geom.margin, geom.gap = 0, 0, 0.0, 0.0
    for joint in spec.joints:
        joint.margin = 0.0
    target = spec.body("target")
    for joint in list(target.joints):
        spec.delete(joint)
    target.mocap = True
    for partner in OBJECT_PARTNERS:
        spec.add_pair(geomname1="object", geomname2=f"robot0:C_{partner}", condim=4,
                      friction=[1.0, 1.0, 0.005, 0.0001, 0.0001])
    spec.add_pair(geomname1="object", geomname2="floor0", condim=3)
    spec.option.solver = mujoco.mjtSolver.mjSOL_NEWTON
    spec.option.iterations = 6
    spec.option.ls_iterations = 6
    spec.meshdir, spec.texturedir = "", ""
    spec.compile()
    header = ("<!-- Derived by envs/assets/shadow_hand/derive.py from gymnasium-robotics 1.4.2 "
              f"envs/assets/hand/{source.name}; see LICENSE.md in this folder. -->\n")
    return header + spec.to_xml()


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    assets = Path(sys.argv[1])
    for name, out in SCENES.items():
        (HERE / out).write_text(derive(assets / name))
        print(f"wrote {HERE / out}")


if __name__ == "__main__":
    main()
