from services.indicators.models import Base
from shared.alembic_env import run_migrations

run_migrations(Base.metadata)
