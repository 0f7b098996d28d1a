from django import template

register = template.Library()


@register.filter
def percent(fraction) -> str:
    """A share such as an eval run's pass rate (0.667) as "66.7%"; "—" when there is none."""
    if fraction is None or fraction == "":
        return "—"
    return f"{100 * float(fraction):.1f}%"


@register.filter
def signed_points(delta) -> str:
    """A change of a share (-0.2) in percentage points: "-20.0 points"."""
    if delta is None or delta == "":
        return "—"
    return f"{100 * float(delta):+.1f} points"
