from django.urls import path

from . import views

app_name = "evals"

urlpatterns = [
    path("", views.index, name="index"),
]
