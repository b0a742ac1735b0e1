"""initial schema: encounters, codes, decisions, attestations, cdi queries, jobs, api tokens

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-24 06:13:09.908870
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply the migration."""

    op.create_table('cp_api_tokens',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('user', sa.String(length=128), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.Column('expires_at', sa.Float(), nullable=True),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_sha256')
    )
    op.create_table('cp_attestations',
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('encounter_id', sa.String(length=128), nullable=False),
    sa.Column('user', sa.String(length=128), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('statement', sa.Text(), nullable=False),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('tenant', 'encounter_id', name='pk_cp_attestations')
    )
    op.create_table('cp_cdi_queries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('encounter_id', sa.String(length=128), nullable=False),
    sa.Column('system', sa.String(length=16), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('text_blob', sa.LargeBinary(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('updated_by', sa.String(length=128), nullable=False),
    sa.Column('updated_at', sa.String(length=40), nullable=False),
    sa.Column('history_json', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant', 'encounter_id', 'system', 'code', name='uq_cp_cdi_code')
    )
    op.create_table('cp_decisions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('encounter_id', sa.String(length=128), nullable=False),
    sa.Column('system', sa.String(length=16), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('new_code', sa.String(length=32), nullable=True),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('user', sa.String(length=128), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.Column('routing', sa.String(length=16), nullable=False),
    sa.Column('versions_json', sa.Text(), nullable=False),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('cp_decisions', schema=None) as batch_op:
        batch_op.create_index('ix_cp_decisions_encounter', ['tenant', 'encounter_id'], unique=False)

    op.create_table('cp_encounters',
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('id', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('setting', sa.String(length=16), nullable=False),
    sa.Column('specialty', sa.String(length=64), nullable=False),
    sa.Column('source_format', sa.String(length=64), nullable=False),
    sa.Column('source_sha256', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.Column('updated_at', sa.String(length=40), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('code_count', sa.Integer(), nullable=False),
    sa.Column('routing_json', sa.Text(), nullable=False),
    sa.Column('min_confidence', sa.Float(), nullable=False),
    sa.Column('priority', sa.Float(), nullable=False),
    sa.Column('versions_json', sa.Text(), nullable=False),
    sa.Column('drg_weight', sa.Float(), nullable=True),
    sa.Column('evidence_support', sa.Float(), nullable=False),
    sa.Column('attested_by', sa.String(length=128), nullable=True),
    sa.Column('sealer', sa.String(length=64), nullable=False),
    sa.Column('notes_blob', sa.LargeBinary(), nullable=False),
    sa.Column('package_blob', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('tenant', 'id', name='pk_cp_encounters')
    )
    with op.batch_alter_table('cp_encounters', schema=None) as batch_op:
        batch_op.create_index('ix_cp_encounters_created', ['tenant', 'created_at'], unique=False)
        batch_op.create_index('ix_cp_encounters_queue', ['tenant', 'status', 'priority'],
                              unique=False)

    op.create_table('cp_jobs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('setting', sa.String(length=16), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('lease_until', sa.Float(), nullable=True),
    sa.Column('worker', sa.String(length=128), nullable=True),
    sa.Column('submitted_by', sa.String(length=128), nullable=False),
    sa.Column('submitted_role', sa.String(length=32), nullable=False),
    sa.Column('content_type', sa.String(length=128), nullable=True),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('encounter_id', sa.String(length=128), nullable=False),
    sa.Column('payload_sha256', sa.String(length=64), nullable=False),
    sa.Column('payload_blob', sa.LargeBinary(), nullable=False),
    sa.Column('sealer', sa.String(length=64), nullable=False),
    sa.Column('error_code', sa.String(length=32), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.Column('updated_at', sa.String(length=40), nullable=False),
    sa.Column('available_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant', 'idempotency_key', name='uq_cp_jobs_key')
    )
    with op.batch_alter_table('cp_jobs', schema=None) as batch_op:
        batch_op.create_index('ix_cp_jobs_claim', ['status', 'available_at'], unique=False)

    op.create_table('cp_codes',
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('encounter_id', sa.String(length=128), nullable=False),
    sa.Column('system', sa.String(length=16), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.Column('routing', sa.String(length=16), nullable=False),
    sa.Column('sampled_for_audit', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('final_code', sa.String(length=32), nullable=True),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant', 'encounter_id'],
                            ['cp_encounters.tenant', 'cp_encounters.id'],
                            name='fk_cp_codes_encounter', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant', 'encounter_id', 'system', 'code', name='pk_cp_codes')
    )
    with op.batch_alter_table('cp_codes', schema=None) as batch_op:
        batch_op.create_index('ix_cp_codes_code', ['tenant', 'code'], unique=False)




def downgrade() -> None:
    """Revert the migration."""

    with op.batch_alter_table('cp_codes', schema=None) as batch_op:
        batch_op.drop_index('ix_cp_codes_code')

    op.drop_table('cp_codes')
    with op.batch_alter_table('cp_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_cp_jobs_claim')

    op.drop_table('cp_jobs')
    with op.batch_alter_table('cp_encounters', schema=None) as batch_op:
        batch_op.drop_index('ix_cp_encounters_queue')
        batch_op.drop_index('ix_cp_encounters_created')

    op.drop_table('cp_encounters')
    with op.batch_alter_table('cp_decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_cp_decisions_encounter')

    op.drop_table('cp_decisions')
    op.drop_table('cp_cdi_queries')
    op.drop_table('cp_attestations')
    op.drop_table('cp_api_tokens')

