from django.urls import path

from . import views

app_name = "memory"

urlpatterns = [
    path("", views.memory_page, name="page"),
    path("<int:pk>/edit/", views.memory_edit, name="edit"),
    path("<int:pk>/delete/", views.memory_remove, name="delete"),
]
