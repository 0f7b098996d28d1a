from django.urls import path

from . import views

app_name = "evals"

urlpatterns = [
    path("", views.index, name="index"),
    path("suites/<int:suite_id>/", views.suite_page, name="suite"),
    path("suites/<int:suite_id>/run/", views.suite_run, name="suite-run"),
    path("runs/<int:eval_run_id>/", views.eval_run_page, name="run"),
    path("from-run/<uuid:run_id>/", views.case_from_run, name="case-from-run"),
]
