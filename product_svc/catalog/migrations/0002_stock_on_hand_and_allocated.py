"""Stock kept as on hand and allocated (available = on hand - allocated); reservations confirm and expire.

Existing products keep what they could sell: on hand becomes the old available stock plus the units
of held reservations, and those units are allocated. Existing held reservations become confirmed: an
order placed before this change may be confirmed already, and expiring its reservation would sell its
units twice. Checkouts left pending still give them back through the orders service's expiry.
"""

import django.core.validators
from django.db import migrations, models
from django.db.models import F, Sum


def split_stock(apps, schema_editor):
    Product = apps.get_model("catalog", "Product")
    Reservation = apps.get_model("catalog", "Reservation")
    ReservationLine = apps.get_model("catalog", "ReservationLine")
    allocated = dict(
        ReservationLine.objects.filter(reservation__status="held")
        .values("product_id")
        .annotate(units=Sum("quantity"))
        .values_list("product_id", "units")
    )
    for product_id, units in allocated.items():
        Product.objects.filter(id=product_id).update(stock_on_hand=F("stock_old") + units, stock_allocated=units)
    Product.objects.exclude(id__in=list(allocated)).update(stock_on_hand=F("stock_old"), stock_allocated=0)
    Reservation.objects.filter(status="held").update(status="confirmed")


def join_stock(apps, schema_editor):
    Product = apps.get_model("catalog", "Product")
    Reservation = apps.get_model("catalog", "Reservation")
    Product.objects.update(stock_old=F("stock_on_hand") - F("stock_allocated"))
    Reservation.objects.filter(status="confirmed").update(status="held")
    Reservation.objects.filter(status="expired").update(status="released")


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0001_initial"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="reservation", name="catalog_reservation_status_valid"),
        migrations.RemoveConstraint(model_name="product", name="catalog_product_stock_gte_0"),
        migrations.AddField(
            model_name="product",
            name="stock_on_hand",
            field=models.IntegerField(
                default=0, validators=[django.core.validators.MinValueValidator(0)], verbose_name="on hand"
            ),
        ),
        migrations.AddField(
            model_name="product",
            name="stock_allocated",
            field=models.IntegerField(default=0, editable=False, verbose_name="allocated"),
        ),
        # The old column is renamed while the data moves, so the reverse can fill it again.
        migrations.RenameField(model_name="product", old_name="stock", new_name="stock_old"),
        migrations.RunPython(split_stock, join_stock),
        migrations.RemoveField(model_name="product", name="stock_old"),
        migrations.AddField(
            model_name="product",
            name="stock",
            field=models.GeneratedField(
                db_persist=True,
                expression=models.F("stock_on_hand") - models.F("stock_allocated"),
                output_field=models.IntegerField(verbose_name="available"),
                verbose_name="available",
            ),
        ),
        migrations.AddConstraint(
            model_name="product",
            constraint=models.CheckConstraint(
                condition=models.Q(stock_on_hand__gte=0), name="catalog_product_stock_on_hand_gte_0"
            ),
        ),
        migrations.AddConstraint(
            model_name="product",
            constraint=models.CheckConstraint(
                condition=models.Q(stock_allocated__gte=0), name="catalog_product_stock_allocated_gte_0"
            ),
        ),
        migrations.AddConstraint(
            model_name="product",
            constraint=models.CheckConstraint(
                condition=models.Q(stock_allocated__lte=models.F("stock_on_hand")),
                name="catalog_product_allocated_lte_on_hand",
            ),
        ),
        migrations.AddField(
            model_name="reservation",
            name="expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="reservation",
            name="status",
            field=models.CharField(
                choices=[
                    ("held", "Held"),
                    ("confirmed", "Confirmed"),
                    ("released", "Released"),
                    ("expired", "Expired"),
                ],
                default="held",
                max_length=16,
            ),
        ),
        migrations.AddConstraint(
            model_name="reservation",
            constraint=models.CheckConstraint(
                condition=models.Q(status__in=["held", "confirmed", "released", "expired"]),
                name="catalog_reservation_status_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="reservation",
            constraint=models.CheckConstraint(
                condition=~models.Q(status="held") | models.Q(expires_at__isnull=False),
                name="catalog_reservation_held_expires",
            ),
        ),
        migrations.AddIndex(
            model_name="reservation",
            index=models.Index(
                condition=models.Q(status="held"), fields=["expires_at"], name="catalog_reservation_held_idx"
            ),
        ),
    ]
