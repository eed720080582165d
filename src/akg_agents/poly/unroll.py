"""Unroll-and-jam of a tiled band's point loops (config key ``unroll_jam``; post.py calls it).

Also the two band-building helpers the post-pass shares with it.
"""

from __future__ import annotations

import islpy as isl

BAND = isl.schedule_node_type.band


def multi(space: isl.Space, members: list[isl.UnionPwAff]) -> isl.MultiUnionPwAff:
    lst = isl.UnionPwAffList.alloc(space.get_ctx(), len(members))
    for member in members:
        lst = lst.add(member)
    return isl.MultiUnionPwAff.from_union_pw_aff_list(space, lst)


def insert_band(node: isl.ScheduleNode, mupa: isl.MultiUnionPwAff, coinc: list[bool]) -> isl.ScheduleNode:
    """A permutable band of `mupa` inserted at `node`, its members' coincidence set to `coinc`."""
    node = node.insert_partial_schedule(mupa).band_set_permutable(1)
    for m, flag in enumerate(coinc):
        node = node.band_member_set_coincident(m, flag)
    return node


def unroll_jam(node: isl.ScheduleNode, factor: int) -> tuple[isl.ScheduleNode, bool]:
    """Unroll-and-jam the second innermost point loop by `factor` (register reuse).

    Point loops (..., k, j) become (..., k / factor, j) over a loop k % factor that isl's AST
    unrolls: each iteration of j runs `factor` consecutive k, so a value that depends on j but
    not on k (covariance's cov[i][j], gemm's C[i][j]) stays in a register across them instead of
    a load and a store per k. Legal because the point band is permutable: any order of its
    members and strip-mining respect the dependences. Returns the node at the first band and
    whether the band was unroll-and-jammed.
    """
    n = node.band_n_member()
    mupa = node.band_get_partial_schedule()
    coinc = [bool(node.band_member_get_coincident(m)) for m in range(n)]
    k = mupa.get_at(n - 2)
    outer = k.scale_down_val(isl.Val(factor)).floor()
    members = [mupa.get_at(m) for m in range(n - 2)] + [outer, mupa.get_at(n - 1)]
    copies = isl.MultiUnionPwAff.from_union_pw_aff(k.sub(outer.scale_val(isl.Val(factor))))
    node = node.delete().insert_partial_schedule(copies)
    node = node.band_member_set_ast_loop_type(0, isl.ast_loop_type.unroll)
    node = insert_band(node, multi(mupa.get_space(), members), coinc)
    option = _full_groups(node, factor)
    if option is None:  # the guards would stay inside the vector loop: keep the point loops
        return insert_band(node.child(0).delete().parent().delete(), mupa, coinc), False
    return node.band_set_ast_build_options(option), True


FULL_GROUPS_OPS = 200000  # isl operations for the isolate set (a skewed 3-d stencil band's divisions)


def _full_groups(node: isl.ScheduleNode, factor: int) -> isl.UnionSet | None:
    """isl's `isolate` option for the points where all `factor` unrolled copies run.

    Unrolling a loop whose trip count varies puts a guard before every copy, inside the vector
    loop; isolated, the full groups get guard-free code and the remainder keeps the guards.
    None when the full groups are not one convex piece: isl isolates the simple hull of the set,
    which takes the partial groups back in with their guards (trmm's triangular k > i band: one
    piece off the diagonal tiles, another on them; measured 5x slower than no unroll-and-jam),
    and None when isl needs more than FULL_GROUPS_OPS operations. `node` is the point band, its
    child the unrolled band.
    """
    depth, n = node.get_schedule_depth(), node.band_n_member()
    below = node.child(0).child(0)  # what the unrolled band holds: a leaf or a sequence
    ctx = node.get_ctx()
    ctx.set_max_operations(FULL_GROUPS_OPS)
    ctx.reset_operations()
    try:
        points = below.get_prefix_schedule_union_map().intersect_domain(below.get_domain()).range()
        if points.n_set() != 1:  # the schedule space is one anonymous tuple; anything else: leave it
            return None
        every = isl.Set.from_union_set(points)
        groups = every.project_out(isl.dim_type.set, depth + n, 1)
        copies = isl.Set(f"{{ [u] : 0 <= u < {factor} }}")
        missing = groups.flat_product(copies).subtract(every).project_out(isl.dim_type.set, depth + n, 1)
        full = groups.subtract(missing).coalesce()
    except isl.Error:
        return None
    finally:
        ctx.set_max_operations(0)
    if full.n_basic_set() != 1:
        return None
    as_map = isl.Map.from_range(full).move_dims(isl.dim_type.in_, 0, isl.dim_type.out, 0, depth)
    return isl.UnionSet.from_set(as_map.wrap().set_tuple_name("isolate"))


def is_unroll_band(node: isl.ScheduleNode) -> bool:
    """The one-member band `unroll_jam` leaves under the point band (isl unrolls it)."""
    return node.get_type() == BAND and node.band_n_member() == 1 \
        and node.band_member_get_ast_loop_type(0) == isl.ast_loop_type.unroll
