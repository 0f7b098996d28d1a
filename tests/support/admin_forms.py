"""Posting Django admin forms the way a browser does."""

from django.forms import MultiWidget, SelectMultiple


def form_as_posted(response) -> dict:
    """What a browser would post back from an admin add or change page, every field as it was shown.

    Includes the inline formsets' management forms, so a test changes only the fields it is about.
    """
    data = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        forms += [formset.management_form, *formset.forms]
    for form in forms:
        for name, field in form.fields.items():
            if field.disabled:
                continue
            value = form[name].value()
            if value is False or (value is None and isinstance(field.widget, SelectMultiple)):
                continue  # an unticked checkbox, or a multiple choice with nothing chosen, posts nothing
            if isinstance(field.widget, MultiWidget):  # a split date and time posts each part
                parts = field.widget.decompress(value) if value is not None else [None] * len(field.widget.widgets)
                for index, part in enumerate(parts):
                    data[f"{form.add_prefix(name)}_{index}"] = "" if part is None else str(part)
                continue
            data[form.add_prefix(name)] = "" if value is None else value
            if field.show_hidden_initial:  # a field with a callable default carries its initial value too
                data[form.add_initial_prefix(name)] = data[form.add_prefix(name)]
    return data
