from django.urls import path

from . import views

app_name = "runs"

urlpatterns = [
    path("", views.run_list_page, name="list"),
    path("start/", views.run_start, name="start"),
    path("<uuid:run_id>/", views.run_trace, name="trace"),
    path("<uuid:run_id>/steps/", views.run_steps, name="steps"),
    path("<uuid:run_id>/timeline/", views.run_timeline, name="timeline"),
    path("<uuid:run_id>/steps/<int:seq>/prompt/", views.step_prompt, name="prompt"),
    path("<uuid:run_id>/steps/<int:seq>/resolve/", views.step_resolve, name="resolve"),
    path("<uuid:run_id>/cancel/", views.run_cancel, name="cancel"),
    path("<uuid:run_id>/retry/", views.run_retry, name="retry"),
    path("<uuid:run_id>/replay/", views.run_replay, name="replay"),
]
