"""factory_boy factories for the core models. Services are used where a row needs its audit trail."""

import factory
from django.contrib.auth import get_user_model

from agentops.agents.models import Agent, AgentVersion
from agentops.tenancy.models import Membership, Tenant
from agentops.tenancy.roles import Role


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Tenant {n}")
    slug = factory.Sequence(lambda n: f"tenant-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "pw")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    tenant = factory.SubFactory(TenantFactory)
    role = Role.OPERATOR


class AgentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agent
        skip_postgeneration_save = True

    tenant = factory.SubFactory(TenantFactory)
    slug = factory.Sequence(lambda n: f"agent-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())

    @factory.post_generation
    def version(obj, create, extracted, **kwargs):
        """AgentFactory(version__provider="scripted", ...) sets the first version's config."""
        if not create:
            return
        config = {"provider": "demo", "model": "demo", **kwargs}
        version = AgentVersion.objects.create(agent=obj, number=1, **config)
        Agent.objects.filter(pk=obj.pk).update(current_version=version)
        obj.current_version = version


class EvalSuiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "evals.EvalSuite"

    agent = factory.SubFactory(AgentFactory)
    tenant = factory.SelfAttribute("agent.tenant")
    name = factory.Sequence(lambda n: f"suite-{n}")


class EvalCaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "evals.EvalCase"

    suite = factory.SubFactory(EvalSuiteFactory)
    name = factory.Sequence(lambda n: f"case-{n}")
    position = factory.Sequence(lambda n: n)
    message = "hello"
