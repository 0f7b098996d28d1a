from django import template

register = template.Library()


@register.filter
def percent(fraction) -> str:
    """A share such as an eval run's pass rate (0.667) as "66.7%"; "—" when there is none."""
    if fraction is None or fraction == "":
        return "—"
    return f"{100 * float(fraction):.1f}%"
